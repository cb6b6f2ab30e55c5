#!/usr/bin/env python3
"""Many inputs through one parted `zkinfer prove`: each part's keys built once for all of them.

Compiles MODEL (an ONNX file) within a memory budget, then proves N inputs of its evaluation
set in one `zkinfer prove --input many.json -o DIR --json` under GNU time, and reports the
wall time, the peak RSS, the key time (once per part) and each inference's witness and proof
time, so the first proof (keys and its own proof) and every further one (its proof only) can
be read apart. Then verifies every proof with one `zkinfer verify` (one verifying key per
part for all of them).

    python3 benches/prove_many.py tests/data/gpt2_l2.onnx tests/data/gpt2_l2.eval.json -n 3
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile


def timed(cmd):
    """Runs `cmd` under GNU time: (stdout, wall seconds, peak RSS in MiB); fails loudly."""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + [str(c) for c in cmd],
                           capture_output=True, text=True)
        wall, kib = t.read().split()[-2:]
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} {cmd[1]} failed: {p.stderr.strip()}")
    return p.stdout, float(wall), int(kib) // 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=pathlib.Path)
    ap.add_argument("eval", type=pathlib.Path, help="evaluation set: the first half calibrates")
    ap.add_argument("-n", type=int, default=3, help="inputs to prove (from the second half)")
    ap.add_argument("--zkinfer", default="target/release/zkinfer")
    ap.add_argument("--memory-budget", default="8GiB")
    ap.add_argument("--work", type=pathlib.Path, help="scratch folder (default: a new temp dir)")
    a = ap.parse_args()
    work = a.work or pathlib.Path(tempfile.mkdtemp(prefix="zkinfer-many-"))
    work.mkdir(parents=True, exist_ok=True)
    ev = json.loads(a.eval.read_text())
    half = len(ev["inputs"]) // 2
    cal, many, zkm = work / "calibration.json", work / "many.json", work / "model.zkm"
    cal.write_text(json.dumps({"inputs": ev["inputs"][:half]}))
    many.write_text(json.dumps({"input_data": ev["inputs"][half:half + a.n]}))
    compiled, _, _ = timed([a.zkinfer, "compile", a.model, "--calibration", cal,
                            "--memory-budget", a.memory_budget, "-o", zkm, "--json"])
    if "parts" not in json.loads(compiled):
        raise SystemExit(f"{a.model} fits whole within {a.memory_budget}: lower --memory-budget")
    out, wall, peak = timed([a.zkinfer, "prove", zkm, "--input", many, "-o", work / "proofs",
                             "--json"])
    report = json.loads(out)
    keys = sum(report["keys_s"])
    each = [p["prove_s"] for p in report["proofs"]]
    proofs = [p["proof"] for p in report["proofs"]]
    vout, vwall, vpeak = timed([a.zkinfer, "verify", zkm, *proofs, "--json"])
    valid = json.loads(vout).get("ok") is True
    row = {
        "model": a.model.name, "parts": len(report["keys_s"]), "inputs": a.n,
        "prove_wall_s": wall, "prove_peak_mib": peak,
        "keys_s": round(keys, 1),
        "witness_and_proof_s": [round(s, 1) for s in each],
        "first_proof_s": round(keys + each[0], 1),
        "further_proof_median_s": round(statistics.median(each[1:]), 1) if a.n > 1 else None,
        "verify_wall_s": vwall, "verify_peak_mib": vpeak, "all_valid": valid,
    }
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
