#!/usr/bin/env bash
# The price of proving in parts: a model proven whole against the same model cut in parts,
# through the CLI as a user runs it (keys built per call). Prints median wall times of
# `prove` and `verify`, peak RSS (GNU time) and proof bytes.
#
#   benches/parts.sh [ONNX] [CALIBRATION] [COMPILE FLAGS FOR THE PARTS...]
#   benches/parts.sh tests/data/lenet5.onnx tests/data/lenet5.input.json --cut-before 6
set -euo pipefail
onnx=${1:-tests/data/lenet5.onnx}
calibration=${2:-tests/data/lenet5.input.json}
shift 2 || true
flags=("$@")
[ ${#flags[@]} -eq 0 ] && flags=(--cut-before 6)
repeats=${REPEATS:-3}
# ZKINFER=path/to/zkinfer skips the build.
if [ -z "${ZKINFER:-}" ]; then cargo build --release --bin zkinfer >&2; fi
z=${ZKINFER:-target/release/zkinfer}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$z compile "$onnx" --calibration "$calibration" -o "$dir/whole.zkm" >&2
$z compile "$onnx" --calibration "$calibration" "${flags[@]}" -o "$dir/parts.zkm" >&2
# Parameters are cached before timing.
$z prove "$dir/whole.zkm" --input "$calibration" -o "$dir/warm.json" >/dev/null 2>&1
$z prove "$dir/parts.zkm" --input "$calibration" -o "$dir/warm.json" >/dev/null 2>&1
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() { # name command... -> "seconds KiB" per run
  local out=$1; shift
  for _ in $(seq "$repeats"); do
    /usr/bin/time -f "%e %M" -o "$dir/t" "$@" >/dev/null 2>&1
    cat "$dir/t"
  done >"$dir/$out"
}
echo "| | prove (s) | prove peak RSS (MiB) | verify (s) | proof bytes |"
echo "|---|---|---|---|---|"
for m in whole parts; do
  measure "$m.prove" $z prove "$dir/$m.zkm" --input "$calibration" -o "$dir/$m.json"
  measure "$m.verify" $z verify "$dir/$m.zkm" "$dir/$m.json"
  p=$(cut -d' ' -f1 "$dir/$m.prove" | median)
  r=$(cut -d' ' -f2 "$dir/$m.prove" | median)
  v=$(cut -d' ' -f1 "$dir/$m.verify" | median)
  bytes=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); ps=d.get('parts',[d]); print(sum(len(p['proof'])//2 for p in ps))" "$dir/$m.json")
  echo "| $m | $p | $((r / 1024)) | $v | $bytes |"
done
$z inspect "$dir/parts.zkm" | tail -n 4
