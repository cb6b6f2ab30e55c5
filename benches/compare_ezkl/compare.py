#!/usr/bin/env python3
"""Side-by-side: EZKL 23.0.5 and zkinfer on the same ONNX model and input, in one run.

Usage (from the repository root; needs only PyPI and crates.io):

    python3 benches/compare_ezkl/compare.py [MODEL ...] [--repeats 3] [--models-dir tests/data]

It installs EZKL into .venv-ezkl (first run only), runs EZKL's whole pipeline through
ezkl_pipeline.py beside this file (SRS generated locally with gen_srs, never downloaded;
input private, like zkinfer's default), then runs the zkinfer CLI on the same files, each
step under /usr/bin/time -v, and prints one markdown table: setup/keygen, prove, verify,
peak RSS, proof size, output error and the ratios. Run it on an otherwise idle machine.

With --hashed it measures the commitments instead, all in one run: zkinfer with the default
visibilities (input private, output public, params fixed), with input and output hashed
(Poseidon commitments), and with params hashed (verified from the verifier file, which holds
no weights), and EZKL with input and output hashed and with params hashed.

tiny_gpt and resnet20 (issue 14's decoder and issue 13's ResNet-20) are covered too: a model
not in --models-dir is read from ../shared/models, resnet20 is compiled in parts
(`--max-k 17 --memory-budget 16GiB`, the only way it fits this machine), gpt2_l2 (the Hugging
Face GPT-2 as `torch.onnx.export` writes it) within `--memory-budget 8GiB`, and EZKL's outcome
is recorded whatever it is (the step it failed at, or timed out at, in the table). Each EZKL
step is bounded by --ezkl-step-timeout; --ezkl-max-logrows caps its calibration (tiny_gpt's
smallest accepted is 22). For example:

    python3 benches/compare_ezkl/compare.py tiny_gpt resnet20 --repeats 1 --ezkl-step-timeout 600

With --error-budget it runs EZKL first, then compiles zkinfer with `--max-error` set to the
max abs error EZKL reached in the same run (zkinfer picks the widths predicted fastest within
it), and prints both with the ratios. A model whose only calibration file is one sample
(lenet5) cannot hold samples out, and says so.

With --plots DIR it measures, per model in one run, EZKL's default pipeline and zkinfer at
`--precision standard`, at `--precision high` and with `--max-error` at EZKL's error (where
the calibration set can hold samples out), writes DIR/run.json and draws the PNG plots
(plots.py: prove time against multiplies, and the precision frontier).

With --precision it measures the precision trade-off: zkinfer at `--precision standard` and
`--precision high`, beside EZKL, all in one run (max abs error against onnxruntime's output,
k, prove time and memory).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, ".venv-ezkl")
EZKL_PACKAGES = ["ezkl==23.0.5", "onnx", "onnxruntime", "numpy", "scikit-learn", "matplotlib"]
DEFAULT_MODELS = ["digits_mlp", "digits_cnn", "digits_mlp_tanh_sigmoid", "lenet5"]
SHARED_MODELS = os.path.join(os.path.dirname(ROOT), "shared", "models")
# Compile flags a model needs beyond the defaults: ResNet-20 is proven in parts.
ZKINFER_FLAGS = {"resnet20": ["--max-k", "17", "--memory-budget", "16GiB"],
                 "gpt2_l2": ["--memory-budget", "8GiB"]}


def model_dir(name, models_dir):
    """`models_dir`, or ../shared/models for a model only there (resnet20 is not bundled)."""
    if not os.path.exists(os.path.join(models_dir, f"{name}.onnx")) and \
            os.path.exists(os.path.join(SHARED_MODELS, f"{name}.onnx")):
        return SHARED_MODELS
    return models_dir


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_ezkl():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        sh([sys.executable, "-m", "venv", VENV])
    if subprocess.run([python, "-c", "import ezkl, matplotlib"], capture_output=True).returncode != 0:
        sh([python, "-m", "pip", "install", "-q", *EZKL_PACKAGES])
    return python


def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, peak RSS MiB); raises with its last error line."""
    with tempfile.NamedTemporaryFile(suffix=".time") as t:
        out = subprocess.run(["/usr/bin/time", "-v", "-o", t.name, *cmd], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
        fields = dict(line.strip().split(": ", 1) for line in open(t.name) if ": " in line)
    rss = int(fields["Maximum resident set size (kbytes)"]) / 1024
    return out.stdout, rss


HASHED = ["--input-visibility", "hashed", "--output-visibility", "hashed"]
HASHED_PARAMS = ["--param-visibility", "hashed"]


def run_zkinfer(name, models_dir, work, repeats, visibility=(), tag=None):
    """With hashed params (`visibility` has `--param-visibility hashed`), proofs are verified
    from the verifier file, as a verifier without the weights does."""
    exe = os.path.join(ROOT, "target", "release", "zkinfer")
    env = dict(os.environ, ZKINFER_PARAMS_DIR=os.path.join(work, "params"))
    models_dir = model_dir(name, models_dir)
    visibility = [*ZKINFER_FLAGS.get(name, []), *visibility]
    onnx = os.path.join(models_dir, f"{name}.onnx")
    inp = os.path.join(models_dir, f"{name}.input.json")
    calib = os.path.join(models_dir, f"{name}.eval.json")
    calib = calib if os.path.exists(calib) else inp
    tag = tag or "-".join(v for v in visibility if v in ("hashed", "high")) or "plain"
    model, proof = os.path.join(work, f"{name}.{tag}.zkm"), os.path.join(work, f"{name}.{tag}.proof.json")
    res = {}
    try:
        timed([exe, "compile", onnx, "--calibration", calib, *visibility, "-o", model], env)
        checker = model
        if "--param-visibility" in visibility:
            checker = os.path.join(work, f"{name}.{tag}.verifier.zkm")
            timed([exe, "export-verifier", model, "-o", checker], env)
        proves = []
        for _ in range(repeats):
            out, rss = timed([exe, "prove", model, "--input", inp, "-o", proof, "--json"], env)
            proves.append((json.loads(out), rss))
        verifies = [json.loads(timed([exe, "verify", checker, proof, "--json"], env)[0]) for _ in range(repeats)]
    except RuntimeError as e:
        return {"error": str(e)}
    proves = [(whole_report(p), rss) for p, rss in proves]
    verifies = [whole_report(v) for v in verifies]
    keygens = [p["keygen_s"] for p, _ in proves]
    res["keygen_s"] = None if None in keygens else statistics.median(keygens)
    res["prove_s"] = statistics.median(p["prove_s"] for p, _ in proves)
    res["prove_rss_mib"] = max(r for _, r in proves)
    res["verify_s"] = statistics.median(v["verify_s"] for v in verifies)
    res["proof_bytes"] = proves[0][0]["proof_bytes"]
    res["k"] = proves[0][0]["k"]
    expected = os.path.join(models_dir, f"{name}.expected.json")
    if os.path.exists(expected) and proves[0][0]["outputs_float"]:
        want = flatten(json.load(open(expected))["output"])
        got = proves[0][0]["outputs_float"]
        res["max_abs_err"] = max(abs(a - b) for a, b in zip(got, want))
    if calib.endswith(".eval.json"):
        acc = json.loads(subprocess.run([exe, "accuracy", model, calib, "--json"], capture_output=True, text=True, env=env, check=True).stdout)
        res["accuracy"] = acc["quantised_accuracy"]
    return res


def flatten(x):
    """A nested list's numbers in order."""
    return [v for e in x for v in flatten(e)] if isinstance(x, list) else [x]


def whole_report(report):
    """The CLI's `--json` report of one proof, in one shape: a model proven in parts reports
    its proof in a `proofs` list, with every part's keys inside `prove_s` (no `keygen_s`)."""
    if "proofs" not in report or len(report["proofs"]) != 1:
        return report
    proof = report["proofs"][0]
    merged = {"keygen_s": None, **report, **proof}
    if "parts" in proof:
        merged["k"] = f"{proof['parts']} parts"
    return merged


EZKL_LIMITS = []  # --step-timeout / --max-logrows, from the command line


def run_ezkl(python, name, models_dir, work, repeats, hashed=False, visibility=None):
    """`visibility`: EZKL's `(input, output, param)` visibilities; `hashed` is shorthand for
    input and output hashed, params fixed."""
    models_dir = model_dir(name, models_dir)
    results = os.path.join(work, "ezkl-results.json")
    if visibility is None:
        visibility = ("hashed", "hashed", "fixed") if hashed else ("private", "public", "fixed")
    vis = ["--input-visibility", visibility[0], "--output-visibility", visibility[1],
           "--param-visibility", visibility[2]]
    sh([python, os.path.join(HERE, "ezkl_pipeline.py"), models_dir, name, "--work-dir", os.path.join(work, "ezkl"),
        "--runs-dir", os.path.join(work, "ezkl-runs"), "--results", results, "--repeats", str(repeats),
        *vis, *EZKL_LIMITS], stdout=subprocess.DEVNULL)
    runs = json.load(open(results))["runs"]
    tag = "-".join(v[:4] for v in visibility)
    run = runs[next(k for k in runs if k.startswith(name + "__") and tag in k)]
    s = run["summary"]
    t, rss = s["timings_s"], s["peak_rss_mib"]
    return {
        "status": run["status"], "k": s.get("settings", {}).get("logrows"), "setup_s": t.get("setup"),
        "prove_s": t.get("prove"), "verify_s": t.get("verify"), "prove_rss_mib": rss.get("prove"),
        "proof_bytes": s.get("sizes_bytes", {}).get("proof_raw"), "max_abs_err": s.get("max_abs_err"),
        "accuracy": s.get("eval_accuracy_quantized"),
    }


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}{unit}"
    return f"{v}{unit}"


def ratio(a, b):
    return f"{a / b:.1f}x" if a and b else "—"


def error_ratio(a, b):
    """EZKL's error over zkinfer's: above 1 where zkinfer is closer to the float model."""
    return f"{a / b:.2g}x" if a and b else "—"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "tests", "data"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, "ezkl-work"))
    ap.add_argument("--hashed", action="store_true", help="measure hashed input and output (see above)")
    ap.add_argument("--precision", action="store_true", help="measure both precision presets (see above)")
    ap.add_argument("--error-budget", action="store_true",
                    help="zkinfer compiled with --max-error at EZKL's measured error (see above)")
    ap.add_argument("--plots", metavar="DIR", help="measure every configuration and draw the plots (see above)")
    ap.add_argument("--ezkl-step-timeout", type=int, help="seconds each EZKL step may take (default: its pipeline's 1800)")
    ap.add_argument("--ezkl-max-logrows", type=int, help="cap on EZKL's calibrated logrows")
    a = ap.parse_args()
    if a.ezkl_step_timeout:
        EZKL_LIMITS.extend(["--step-timeout", str(a.ezkl_step_timeout)])
    if a.ezkl_max_logrows:
        EZKL_LIMITS.extend(["--max-logrows", str(a.ezkl_max_logrows)])
    os.makedirs(a.work_dir, exist_ok=True)
    sh(["cargo", "build", "--release", "--bin", "zkinfer"], cwd=ROOT)
    python = ensure_ezkl()
    if a.hashed:
        return hashed_table(python, a)
    if a.precision:
        return precision_table(python, a)
    if a.error_budget:
        return budget_table(python, a)
    if a.plots:
        return plots(python, a)
    rows = []
    for name in a.models:
        z = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats)
        e = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats)
        rows.append((name, z, e))
        print(f"{name}: zkinfer {z}\n{name}: ezkl {e}", file=sys.stderr)
    print("| model | tool | k | setup/keygen | prove | verify | prove peak RSS | proof | max abs err | eval acc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, z, e in rows:
        if e["status"] != "ok":
            print(f"| {name} | EZKL | {fmt(e['k'])} | {e['status']} | | | | | | |")
        else:
            print(f"| {name} | EZKL | {fmt(e['k'])} | {fmt(e['setup_s'], ' s')} | {fmt(e['prove_s'], ' s')} | {fmt(e['verify_s'], ' s')} "
                  f"| {fmt(e['prove_rss_mib'], ' MiB')} | {fmt(e['proof_bytes'], ' B')} | {fmt(e['max_abs_err'])} | {fmt(e['accuracy'])} |")
        if "error" in z:
            print(f"| {name} | zkinfer | unsupported: {z['error']} | | | | | | | |")
            continue
        print(f"| {name} | zkinfer | {z['k']} | {fmt(z['keygen_s'], ' s')} | {fmt(z['prove_s'], ' s')} | {fmt(z['verify_s'], ' s')} "
              f"| {fmt(z['prove_rss_mib'], ' MiB')} | {fmt(z['proof_bytes'], ' B')} | {fmt(z.get('max_abs_err'))} | {fmt(z.get('accuracy'))} |")
        if e["status"] != "ok":
            continue
        print(f"| {name} | EZKL / zkinfer | | {ratio(e['setup_s'], z['keygen_s'])} | {ratio(e['prove_s'], z['prove_s'])} "
              f"| {ratio(e['verify_s'], z['verify_s'])} | {ratio(e['prove_rss_mib'], z['prove_rss_mib'])} | | | |")


def hashed_table(python, a):
    """zkinfer plain, with hashed input/output and with hashed params; EZKL with each
    hashed: one row each per model, then the ratios."""
    print("| model | tool, input / output / params | k | setup/keygen | prove | verify | prove peak RSS | proof |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.models:
        plain = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats)
        hashed = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, HASHED)
        params = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, HASHED_PARAMS)
        e = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats, hashed=True)
        ep = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats,
                      visibility=("private", "public", "hashed"))
        print(f"{name}: zkinfer {plain} / hashed {hashed} / params {params}\n"
              f"{name}: ezkl hashed {e} / params {ep}", file=sys.stderr)
        for tool, r, keygen in [("zkinfer, private / public / fixed", plain, "keygen_s"),
                                ("zkinfer, hashed / hashed / fixed", hashed, "keygen_s"),
                                ("zkinfer, private / public / hashed", params, "keygen_s"),
                                ("EZKL, hashed / hashed / fixed", e, "setup_s"),
                                ("EZKL, private / public / hashed", ep, "setup_s")]:
            if "error" in r or r.get("status") not in (None, "ok"):
                print(f"| {name} | {tool} | failed: {r.get('error', r.get('status'))} | | | | | |")
                continue
            print(f"| {name} | {tool} | {fmt(r['k'])} | {fmt(r[keygen], ' s')} | {fmt(r['prove_s'], ' s')} "
                  f"| {fmt(r['verify_s'], ' s')} | {fmt(r['prove_rss_mib'], ' MiB')} | {fmt(r['proof_bytes'], ' B')} |")
        for what, z, ez in [("hashed input/output", hashed, e), ("hashed params", params, ep)]:
            if "error" not in z:
                print(f"| {name} | EZKL / zkinfer, {what} | | {ratio(ez.get('setup_s'), z['keygen_s'])} "
                      f"| {ratio(ez.get('prove_s'), z['prove_s'])} | {ratio(ez.get('verify_s'), z['verify_s'])} "
                      f"| {ratio(ez.get('prove_rss_mib'), z['prove_rss_mib'])} | |")
                print(f"| {name} | zkinfer {what} / plain | | | {ratio(z['prove_s'], plain['prove_s'])} "
                      f"| {ratio(z['verify_s'], plain['verify_s'])} | {ratio(z['prove_rss_mib'], plain['prove_rss_mib'])} "
                      f"| {ratio(z['proof_bytes'], plain['proof_bytes'])} |")


def precision_table(python, a):
    """zkinfer at both precision presets and EZKL: one row each per model."""
    print("| model | tool | k | prove | verify | prove peak RSS | max abs err | eval acc |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.models:
        standard = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, tag="standard")
        high = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, ["--precision", "high"], tag="high")
        e = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats)
        print(f"{name}: zkinfer {standard} / high {high}\n{name}: ezkl {e}", file=sys.stderr)
        for tool, r in [("zkinfer, standard", standard), ("zkinfer, high", high), ("EZKL", e)]:
            if "error" in r:
                print(f"| {name} | {tool} | failed: {r['error']} | | | | | |")
                continue
            print(f"| {name} | {tool} | {fmt(r['k'])} | {fmt(r['prove_s'], ' s')} | {fmt(r['verify_s'], ' s')} "
                  f"| {fmt(r['prove_rss_mib'], ' MiB')} | {fmt(r.get('max_abs_err'))} | {fmt(r.get('accuracy'))} |")
        for tool, r in [("standard", standard), ("high", high)]:
            if "error" not in r:
                print(f"| {name} | EZKL / zkinfer {tool} | | {ratio(e['prove_s'], r['prove_s'])} | | "
                      f"{ratio(e['prove_rss_mib'], r['prove_rss_mib'])} | {error_ratio(e['max_abs_err'], r.get('max_abs_err'))} | |")


def budget_table(python, a):
    """EZKL, then zkinfer compiled with `--max-error` at the max abs error EZKL reached in this
    run: one row each per model, then the ratios."""
    print("| model | tool | k | prove | verify | prove peak RSS | max abs err | eval acc |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.models:
        e = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats)
        budget = e.get("max_abs_err")
        if e["status"] != "ok" or not budget:
            print(f"| {name} | EZKL | failed: {e['status']} | | | | | |")
            continue
        z = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, ["--max-error", f"{budget:.6g}"],
                        tag="budget")
        print(f"{name}: ezkl {e}\n{name}: zkinfer --max-error {budget:.6g} {z}", file=sys.stderr)
        for tool, r in [("EZKL", e), (f"zkinfer --max-error {budget:.2g}", z)]:
            if "error" in r:
                print(f"| {name} | {tool} | failed: {r['error']} | | | | | |")
                continue
            print(f"| {name} | {tool} | {fmt(r['k'])} | {fmt(r['prove_s'], ' s')} | {fmt(r['verify_s'], ' s')} "
                  f"| {fmt(r['prove_rss_mib'], ' MiB')} | {fmt(r.get('max_abs_err'))} | {fmt(r.get('accuracy'))} |")
        if "error" not in z:
            print(f"| {name} | EZKL / zkinfer | | {ratio(e['prove_s'], z['prove_s'])} | | "
                  f"{ratio(e['prove_rss_mib'], z['prove_rss_mib'])} | | |")


def plots(python, a):
    """Every configuration of the plots, per model in one run: EZKL, then zkinfer at both
    presets and within EZKL's error; the measurements to DIR/run.json, the PNGs by plots.py."""
    mem_gib = int(open("/proc/meminfo").readline().split()[1]) / 2**20
    machine = f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, zkinfer release build, EZKL 23.0.5"
    run = {"machine": machine, "repeats": a.repeats, "models": {}}
    for name in a.models:
        e = run_ezkl(python, name, a.models_dir, a.work_dir, a.repeats)
        configs = {"EZKL": e if e["status"] == "ok" else {"error": e["status"]}}
        configs["zkinfer standard"] = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats, tag="standard")
        configs["zkinfer high"] = run_zkinfer(name, a.models_dir, a.work_dir, a.repeats,
                                              ["--precision", "high"], tag="high")
        if e["status"] == "ok" and e.get("max_abs_err"):
            configs["zkinfer --max-error"] = run_zkinfer(
                name, a.models_dir, a.work_dir, a.repeats, ["--max-error", f"{e['max_abs_err']:.6g}"], tag="budget")
        onnx = os.path.join(model_dir(name, a.models_dir), f"{name}.onnx")
        run["models"][name] = {"onnx": onnx, "configs": configs}
        print(f"{name}: {configs}", file=sys.stderr)
    os.makedirs(a.plots, exist_ok=True)
    path = os.path.join(a.plots, "run.json")
    json.dump(run, open(path, "w"), indent=1)
    sh([python, os.path.join(HERE, "plots.py"), path, a.plots])
    print("| model | configuration | k | prove | verify | prove peak RSS | max abs err |")
    print("|---|---|---|---|---|---|---|")
    for name, m in run["models"].items():
        for key, r in m["configs"].items():
            if "error" in r:
                print(f"| {name} | {key} | failed: {r['error']} | | | | |")
                continue
            print(f"| {name} | {key} | {fmt(r['k'])} | {fmt(r['prove_s'], ' s')} | {fmt(r['verify_s'], ' s')} "
                  f"| {fmt(r['prove_rss_mib'], ' MiB')} | {fmt(r.get('max_abs_err'))} |")


if __name__ == "__main__":
    main()
