"""The GPU comparisons, where CUDA is present (skips cleanly, exit 0, where it is not).

    python benchmarks/gpu.py [--quick] [--json PATH]

1. ``backend_speed.py --frameworks torch --device cuda``: specc's PyTorch models against the
   hand-written ones (and, with Keras 3 installed, Keras on its torch backend: the ``k3t``
   column) on the GPU, float32 with TF32 off (both sides), each step synchronised.
2. ``specc verify specs/*.spec --device cuda`` in float64 and in float32: every example spec's
   torch model on CUDA against Keras (TensorFlow on whatever device it has).

The exit status is non-zero if a verification fails or a worker breaks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few timed rounds")
    p.add_argument("--json", metavar="PATH", help="write the verify reports and timings as JSON")
    args = p.parse_args(argv)
    if not cuda_available():
        print("benchmarks/gpu.py: no CUDA device here (torch.cuda.is_available() is False): skipped")
        return 0
    import torch

    print(f"CUDA device: {torch.cuda.get_device_name(0)}", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    status = 0
    results: dict = {"device": torch.cuda.get_device_name(0)}
    speed_json = ROOT / "runs" / "gpu_backend_speed.json"
    speed_json.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "backend_speed.py"), "--frameworks", "torch", "--device", "cuda",
           "--no-memory", "--json", str(speed_json), *(["--quick"] if args.quick else [])]
    r = subprocess.run(cmd, env=env, cwd=ROOT)
    status |= r.returncode != 0
    if speed_json.exists():
        results["backend_speed"] = json.loads(speed_json.read_text())
    specs = sorted(str(s) for s in (ROOT / "specs").glob("*.spec"))
    for dtype in ("float64", "float32"):
        out = ROOT / "runs" / f"gpu_verify_{dtype}.json"
        cmd = [sys.executable, "-m", "specc", "verify", *specs, "--device", "cuda", "--dtype", dtype, "--json", str(out)]
        print(f"\n$ specc verify specs/*.spec --device cuda --dtype {dtype}", flush=True)
        r = subprocess.run(cmd, env=env, cwd=ROOT)
        status |= r.returncode != 0
        if out.exists():
            results[f"verify_{dtype}"] = json.loads(out.read_text())
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print("\nGPU run:", "all verified" if status == 0 else "FAILED (see above)")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
