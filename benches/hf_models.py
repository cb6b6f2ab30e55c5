#!/usr/bin/env python3
"""Hugging Face models from `torch.onnx.export` through the CLI, as a user runs it.

For each model NAME in DIR (NAME.onnx with its .onnx.data, NAME.eval.json, NAME.input.json and
NAME.expected.json, as `models/make_transformers.py` and `../shared/models/make_models_v3.py`
write them): compile within `--memory-budget`, calibrating on the first half of the evaluation
set; score top-1 agreement with onnxruntime on the held-out half (`zkinfer accuracy`, every
position for the decoders); with `--prove`, prove the bundled input and verify it cold (a fresh
`zkinfer verify`), with wall time and peak RSS (GNU time) of each step, the proof's size and
the verified logits' top-1 against onnxruntime. A model that does not import is reported with
the CLI's own error line. Exits non-zero if any model fails or agrees below 0.95.

    cargo build --release --bin zkinfer
    python3 benches/hf_models.py tests/data --only bert_cls vit_cls --prove

Other sizes, head counts, depths and activations of the same families (not committed: torch
is needed to make them):

    .venv-torch/bin/python models/make_transformers.py --variants /tmp/variants
    python3 benches/hf_models.py /tmp/variants
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile


def run(cmd):
    """Runs `cmd` under GNU time: (process, wall seconds, peak RSS in MiB)."""
    with tempfile.NamedTemporaryFile("r") as t:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + [str(c) for c in cmd],
                           capture_output=True, text=True)
        wall, kib = t.read().split()[-2:]
    return p, float(wall), int(kib) // 1024


def error_line(p):
    lines = p.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {p.returncode}"


def flatten(x):
    """A nested list's numbers in order; a number alone as a list of one."""
    return [v for e in x for v in flatten(e)] if isinstance(x, list) else [x]


def split(eval_path, work):
    ev = json.loads(eval_path.read_text())
    half = len(ev["inputs"]) // 2
    cal, held = work / "calibration.json", work / "held-out.json"
    cal.write_text(json.dumps({"inputs": ev["inputs"][:half]}))
    held.write_text(json.dumps({k: ev[k][half:2 * half]
                                for k in ("inputs", "labels", "float_logits")}))
    return cal, held


def prove(zkinfer, folder, name, zkm, work):
    proof = work / "proof.json"
    p, secs, mib = run([zkinfer, "prove", zkm, "--input", folder / f"{name}.input.json",
                        "-o", proof])
    row = {"prove_s": secs, "prove_peak_mib": mib, "verified": False}
    if p.returncode != 0:
        row["error"] = error_line(p)
        return row
    row["proof_bytes"] = proof.stat().st_size
    p, secs, mib = run([zkinfer, "verify", zkm, proof, "--json"])
    row.update(verify_s=secs, verify_peak_mib=mib)
    if p.returncode != 0:
        row["error"] = error_line(p)
        return row
    report = json.loads(p.stdout)
    row["verified"] = report.get("ok") is True
    # One proof: its report is the top level (whole models) or the first of "proofs" (parts).
    proven = (report["proofs"][0] if "proofs" in report else report)["outputs_float"]
    expected = json.loads((folder / f"{name}.expected.json").read_text())
    want = flatten(expected["argmax"])
    classes = len(proven) // len(want)
    rows = [proven[i * classes:(i + 1) * classes] for i in range(len(want))]
    flat = flatten(expected["output"])
    row["verified_top1"] = f"{sum(r.index(max(r)) == w for r, w in zip(rows, want))}/{len(want)}"
    row["verified_max_abs_error"] = round(max(abs(a - b) for a, b in zip(proven, flat)), 4)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=pathlib.Path)
    ap.add_argument("--zkinfer", default="target/release/zkinfer")
    ap.add_argument("--only", nargs="*", help="these models only")
    ap.add_argument("--prove", action="store_true")
    ap.add_argument("--memory-budget", default="8GiB")
    ap.add_argument("--json", type=pathlib.Path, help="write the results here too")
    ap.add_argument("--work", type=pathlib.Path, help="scratch folder (default: a new temp dir)")
    args = ap.parse_args()
    results, failed = {}, False
    scratch = args.work or pathlib.Path(tempfile.mkdtemp(prefix="hf_models."))
    for onnx in sorted(args.dir.glob("*.onnx")):
        name = onnx.stem
        if args.only and name not in args.only or not (args.dir / f"{name}.eval.json").exists():
            continue
        work = scratch / name
        work.mkdir(parents=True, exist_ok=True)
        cal, held = split(args.dir / f"{name}.eval.json", work)
        zkm = work / f"{name}.zkm"
        p, secs, _ = run([args.zkinfer, "compile", onnx, "--calibration", cal, "-o", zkm,
                          "--memory-budget", args.memory_budget, "--json"])
        row = {"compile_s": secs}
        results[name] = row
        if p.returncode != 0:
            row["error"] = error_line(p)
            failed = True
            print(f"{name}: compile FAILED: {row['error']}", flush=True)
            continue
        compiled = json.loads(p.stdout)
        # A parted model's report: {"parts": {"parts": [...], predicted totals}}.
        parts = (compiled.get("parts") or {}).get("parts")
        row["circuit"] = (f"{len(parts)} parts" if isinstance(parts, list) and parts
                          else f"k = {compiled.get('k')}")
        p, _, _ = run([args.zkinfer, "accuracy", zkm, held, "--json"])
        acc = json.loads(p.stdout) if p.returncode == 0 else {}
        row.update(agreement=acc.get("quantised_accuracy"), positions=acc.get("positions"),
                   max_abs_error=acc.get("max_logit_error"))
        if args.prove:
            row.update(prove(args.zkinfer, args.dir, name, zkm, work))
            failed |= not row["verified"]
        failed |= (row.get("agreement") or 0) < 0.95
        print(f"{name}: {row}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
