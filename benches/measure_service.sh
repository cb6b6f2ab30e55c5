#!/usr/bin/env bash
# Measures `zkinfer serve` on loopback beside the CLI's cold numbers (issue 18), for the
# bundled digits MLP and LeNet-5:
#   - CLI, cold (keys rebuilt per call): wall time of `prove` and `verify`, median of RUNS;
#   - in-process proving time (the CLI's own prove_s, keys excluded);
#   - the service with warm keys: prove latency, verify p50/p99 and throughput at 1, 4 and 16
#     concurrent clients (examples/service_load.rs), and with SOAK seconds > 0 a soak that
#     samples the server's RSS every 10 s.
#
#   benches/measure_service.sh [RUNS] [SECONDS] [SOAK]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3} seconds=${2:-10} soak=${3:-0}
export ZKINFER_PARAMS_DIR="${ZKINFER_PARAMS_DIR:-$PWD/target/zkinfer-params}"
cargo build --release --quiet --bin zkinfer --example service_load
bin=target/release/zkinfer
load=target/release/examples/service_load
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/models"
"$bin" compile tests/data/digits_mlp.onnx --calibration tests/data/digits_mlp.eval.json \
    -o "$work/models/digits.zkm" >/dev/null
"$bin" compile tests/data/lenet5.onnx --calibration tests/data/lenet5.input.json \
    -o "$work/models/lenet5.zkm" >/dev/null
inputs=(tests/data/digits_mlp.input.json tests/data/lenet5.input.json)
echo "## CLI, cold (median of $runs)"
i=0
for model in digits lenet5; do
    for run in $(seq 1 "$runs"); do
        t0=$(date +%s.%N)
        "$bin" prove "$work/models/$model.zkm" --input "${inputs[$i]}" -o "$work/p.json" --json >"$work/prove-$run.json"
        t1=$(date +%s.%N)
        "$bin" verify "$work/models/$model.zkm" "$work/p.json" --json >"$work/verify-$run.json"
        t2=$(date +%s.%N)
        echo "$t0 $t1 $t2" >"$work/times-$run"
    done
    python3 - "$model" "$runs" "$work" <<'PY'
import json, statistics, sys
model, runs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prove_wall, verify_wall, prove_s, verify_s = [], [], [], []
for r in range(1, runs + 1):
    t0, t1, t2 = map(float, open(f"{work}/times-{r}").read().split())
    prove_wall.append(t1 - t0); verify_wall.append(t2 - t1)
    prove_s.append(json.load(open(f"{work}/prove-{r}.json"))["prove_s"])
    verify_s.append(json.load(open(f"{work}/verify-{r}.json"))["verify_s"])
m = statistics.median
print(f"{model}: prove wall {m(prove_wall):.2f} s (in-process proving {m(prove_s):.3f} s), "
      f"verify wall {m(verify_wall):.2f} s (in-process verifying {m(verify_s) * 1e3:.1f} ms)")
PY
    i=$((i + 1))
done
echo "## Service, warm keys"
"$bin" serve --models "$work/models" --bind 127.0.0.1:0 --warm-provers >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 600); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
echo "server pid $server at $url; RSS at start $(grep VmRSS /proc/$server/status)"
"$load" --url "$url" --model digits --input tests/data/digits_mlp.input.json --seconds "$seconds" \
    --soak-seconds "$soak" --pid "$server"
"$load" --url "$url" --model lenet5 --input tests/data/lenet5.input.json --seconds "$seconds" --proves 3
echo "RSS at end $(grep VmRSS /proc/$server/status)"
