#!/usr/bin/env python3
"""A model compiled in parts, proven through the CLI one part after another and through
`zkinfer.ray` on a local Ray, in one run; the Ray proof then verified by the CLI.

    python3 benches/ray_parts.py MODEL.onnx INPUT.json [COMPILE FLAGS...]
    .venv/bin/python benches/ray_parts.py ../shared/models/resnet20.onnx \
        ../shared/models/resnet20.input.json --max-k 17 --memory-budget 16GiB

Run it with the Python that has `zkinfer[ray]` installed (`pip install './python[ray]'`) and
nothing else running. Wall times are whole commands as a user runs them (keys built per
part in both paths; parameters cached before: run it twice if they are not). Memory is the
machine's: the peak of MemTotal - MemAvailable sampled every 0.5 s, minus its level before
the step (a local Ray's workers are not children that `/usr/bin/time` would see).
Prints a Markdown table and writes `ray_parts.json` in the work folder (`$OUT_DIR`, else a
temporary one).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "target" / "release" / "zkinfer"


def used_bytes():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


class PeakMemory:
    """Samples the machine's memory in use while a step runs."""

    def __enter__(self):
        self.base = used_bytes()
        self.peak = self.base
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.start = time.perf_counter()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, used_bytes())
            time.sleep(0.5)

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.start
        self.running = False
        self.thread.join()
        self.peak_mib = (self.peak - self.base) / 2**20


def run(*args):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    onnx, input_path, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    work = Path(os.environ.get("OUT_DIR") or tempfile.mkdtemp(prefix="ray_parts_"))
    work.mkdir(parents=True, exist_ok=True)
    model_path = work / "model.zkm"
    rows = {}

    subprocess.run(["cargo", "build", "--release", "--bin", "zkinfer"], cwd=ROOT, check=True)
    run(CLI, "compile", onnx, "--calibration", input_path, *flags, "-o", model_path)
    parts = json.loads(run(CLI, "inspect", model_path, "--json"))["parts"]
    print(f"{len(parts)} parts; work folder {work}", file=sys.stderr)

    with PeakMemory() as m:
        run(CLI, "prove", model_path, "--input", input_path, "-o", work / "cli-proof.json")
    rows["CLI, parts one after another"] = m

    import ray
    import zkinfer
    import zkinfer.ray

    with PeakMemory() as m:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False)
    rows["Ray start (ray.init, local)"] = m
    model = zkinfer.load(model_path)
    x = json.loads(Path(input_path).read_text())["input_data"][0]
    with PeakMemory() as m:
        proof = zkinfer.ray.prove(model, x, verify=False)
    rows["zkinfer.ray.prove, local Ray"] = m
    proof.save(work / "ray-proof.json")
    ray.shutdown()

    with PeakMemory() as m:
        verified = run(CLI, "verify", model_path, work / "ray-proof.json", "--json")
    rows["CLI verify of the Ray proof"] = m

    print(f"| step | wall | machine memory, peak over idle |")
    print("|---|---|---|")
    for name, m in rows.items():
        print(f"| {name} | {m.wall:.1f} s | {m.peak_mib:,.0f} MiB |")
    cli, on_ray = rows["CLI, parts one after another"], rows["zkinfer.ray.prove, local Ray"]
    print(f"\nRay / CLI wall: {on_ray.wall / cli.wall:.3f}x; {len(parts)} parts")
    summary = {name: {"wall_s": m.wall, "peak_mib": m.peak_mib} for name, m in rows.items()}
    summary["parts"] = len(parts)
    summary["verify"] = json.loads(verified)
    (work / "ray_parts.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary["verify"])[:2000])


if __name__ == "__main__":
    main()
