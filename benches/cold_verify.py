#!/usr/bin/env python3
"""Cold `zkinfer verify` on the bundled models, as the README's commands make them.

Usage: python3 benches/cold_verify.py target/release/zkinfer tests/data WORKDIR

For each of digits_mlp, digits_cnn, digits_mlp_tanh_sigmoid and LeNet-5: `zkinfer compile`
(calibrated on its eval set; LeNet-5 on its input), one `zkinfer prove`, then three
`zkinfer verify MODEL PROOF`, each a fresh process that rebuilds the verifying key. Prints the
wall time of each whole command, their median, the in-process verifying time the CLI reports
and the machine's load average. Parameters are cached under WORKDIR/params by the prove.
"""
import os, statistics, subprocess, sys, time, re
exe = sys.argv[1]; data = sys.argv[2]; work = sys.argv[3]
env = dict(os.environ, ZKINFER_PARAMS_DIR=os.path.join(work, "params"))
def run(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"{cmd}: {out.stderr}")
    return dt, out.stdout + out.stderr
models = [("digits_mlp", "eval"), ("digits_cnn", "eval"), ("digits_mlp_tanh_sigmoid", "eval"), ("lenet5", "input")]
for name, calib in models:
    m = os.path.join(work, f"{name}.zkm"); p = os.path.join(work, f"{name}-proof.json")
    run([exe, "compile", f"{data}/{name}.onnx", "--calibration", f"{data}/{name}.{calib}.json", "-o", m])
    _, out = run([exe, "prove", m, "--input", f"{data}/{name}.input.json", "-o", p])
    walls, inproc = [], []
    for _ in range(3):
        dt, out = run([exe, "verify", m, p])
        walls.append(dt)
        mm = re.search(r"valid proof \(([0-9.]+) ?(ms|s)\)", out)
        if mm: inproc.append(float(mm.group(1)) / (1000 if mm.group(2) == "ms" else 1))
    print(f"{name}: verify wall {[round(w,3) for w in walls]} median {statistics.median(walls):.3f} s; "
          f"in-process {inproc} median {statistics.median(inproc) if inproc else None}; load {os.getloadavg()}", flush=True)
    print("  last output:", out.strip().splitlines()[:3], flush=True)
