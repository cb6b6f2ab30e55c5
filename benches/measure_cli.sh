#!/usr/bin/env bash
# Measures a model end to end through the release CLI: compile, then RUNS times prove and
# verify under /usr/bin/time, printing key generation, proving and verification times, peak
# resident memory of the prove process and the proof size, one line per run.
#
#   benches/measure_cli.sh MODEL CALIBRATION_KIND [RUNS]
#   benches/measure_cli.sh lenet5 input 3        # calibrate LeNet-5 on its input file
#   benches/measure_cli.sh digits_cnn eval 3
#
# Parameters come from $ZKINFER_PARAMS_DIR (default: target/zkinfer-params); the first run of
# a new k also generates them, so run once before measuring or discard run 1.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 kind=$2 runs=${3:-3}
export ZKINFER_PARAMS_DIR="${ZKINFER_PARAMS_DIR:-$PWD/target/zkinfer-params}"
cargo build --release --quiet --bin zkinfer
bin=target/release/zkinfer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" compile "tests/data/$model.onnx" --calibration "tests/data/$model.$kind.json" \
    -o "$work/m.zkm" >/dev/null
echo "| run | k | keygen | prove | verify | prove peak RSS | proof |"
echo "|---|---|---|---|---|---|---|"
for run in $(seq 1 "$runs"); do
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" prove "$work/m.zkm" \
        --input "tests/data/$model.input.json" -o "$work/p.json" --json >"$work/prove.json"
    "$bin" verify "$work/m.zkm" "$work/p.json" --json >"$work/verify.json"
    python3 - "$run" "$work" <<'PY'
import json, sys
run, work = sys.argv[1], sys.argv[2]
p = json.load(open(f"{work}/prove.json"))
v = json.load(open(f"{work}/verify.json"))
rss = int(open(f"{work}/rss").read().split()[-1]) / 1024
print(f"| {run} | {p['k']} | {p['keygen_s']:.2f} s | {p['prove_s']:.2f} s | "
      f"{v['verify_s'] * 1000:.1f} ms | {rss:.0f} MiB | {p['proof_bytes']} B |")
PY
done
