#!/usr/bin/env bash
# ResNet-20 (CIFAR-10 shapes, ~41M multiply-accumulates) proven in parts through the CLI, as
# a user runs it: compile under a budget, prove every part one after another (one part's
# keys in memory at a time), verify. Prints each step's wall time and peak RSS (GNU time).
#
#   benches/resnet20_parts.sh [MODEL_DIR] [COMPILE BUDGET FLAGS...]
#   benches/resnet20_parts.sh ../shared/models --memory-budget 8GiB
#
# MODEL_DIR holds resnet20.onnx and resnet20.input.json (../shared/models/make_models_v2.py
# writes them; the model is 1.1 MB, so it is not bundled in tests/data).
set -euo pipefail
models=${1:-../shared/models}
shift || true
budget=("$@")
[ ${#budget[@]} -eq 0 ] && budget=(--memory-budget 8GiB)
cargo build --release --bin zkinfer >&2
z=$PWD/target/release/zkinfer
dir=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$dir"
step() { # name command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/$name.time" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
  read -r s kib <"$dir/$name.time"
  echo "| $name | $s s | $((kib / 1024)) MiB |"
}
echo "| step | wall | peak RSS |"
echo "|---|---|---|"
step compile "$z" compile "$models/resnet20.onnx" --calibration "$models/resnet20.input.json" \
  "${budget[@]}" -o "$dir/resnet20.zkm"
step prove "$z" prove "$dir/resnet20.zkm" --input "$models/resnet20.input.json" -o "$dir/proof.json"
step verify "$z" verify "$dir/resnet20.zkm" "$dir/proof.json"
"$z" inspect "$dir/resnet20.zkm" | tail -n 20
grep -E "proof in|outputs" "$dir/prove.out" || true
grep -E "valid|wall" "$dir/verify.out" || true
echo "expected (onnxruntime): $(cat "$models/resnet20.expected.json")"
# The stated tolerance: the proven logits within TOLERANCE (max abs) of onnxruntime's, the
# argmax equal; the script fails otherwise.
python3 - "$dir/prove.out" "$models/resnet20.expected.json" "${TOLERANCE:-0.5}" <<'PY'
import json, sys
line = next(l for l in open(sys.argv[1]) if l.startswith("outputs:"))
proven = json.loads(line.split(":", 1)[1])
expected = json.load(open(sys.argv[2]))["output"][0]
err = max(abs(a - b) for a, b in zip(proven, expected))
same = proven.index(max(proven)) == expected.index(max(expected))
print(f"max abs logit error {err:.4f} (tolerance {sys.argv[3]}), argmax equal: {same}")
sys.exit(0 if err <= float(sys.argv[3]) and same else 1)
PY
