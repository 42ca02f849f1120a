"""What `specc verify` costs, against the least any comparison must do: build the model in
both frameworks and run one forward pass in each.

    python benchmarks/verify_cost.py [SPEC ...] [--dtype float32|float64] [--repeat 3] [--json out.json]

Framework imports and first-use initialisation are paid once before timing (a warm-up
build and verify of the first spec).  Reported per spec, best of --repeat runs:
``baseline`` (build both + one forward each), ``verify`` (the full harness: per-layer
forward, loss, gradients, 3 optimizer steps) and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent


def baseline(model, dtype: str) -> float:
    import numpy as np

    import specc
    from specc.verification.data import random_inputs, verification_weights

    t = time.perf_counter()
    w, _ = verification_weights(model, 0)
    x = random_inputs(model, 4, np.random.default_rng(0), dtype)
    tb = specc.build(model, "torch", dtype=dtype, weights=w)
    km = specc.build(model, "keras", dtype=dtype, weights=w)
    tb.predict(x)
    km.predict(x if len(x) > 1 else x[0], verbose=0)
    return time.perf_counter() - t


def main(argv=None) -> int:
    import torch  # noqa: F401 - torch before tensorflow

    import specc
    from specc.verification import verify

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("specs", nargs="*", default=[str(s) for s in sorted((ROOT / "specs").glob("*.spec"))])
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)

    models = [specc.load(s) for s in args.specs]
    verify(models[0], dtype=args.dtype)  # warm-up: imports, first optimizer, tf.function machinery
    baseline(models[0], args.dtype)
    rows = []
    print(f"{'spec':28} {'baseline s':>11} {'verify s':>9} {'ratio':>6}  ok")
    for m in models:
        base = min(baseline(m, args.dtype) for _ in range(args.repeat))
        times, ok = [], True
        for _ in range(args.repeat):
            t = time.perf_counter()
            ok = verify(m, dtype=args.dtype).ok and ok
            times.append(time.perf_counter() - t)
        ver = min(times)
        rows.append({"spec": m.name, "baseline_s": base, "verify_s": ver, "ratio": ver / base, "ok": ok})
        print(f"{m.name:28} {base:11.2f} {ver:9.2f} {ver / base:6.2f}  {'yes' if ok else 'NO'}")
    total_b = sum(r["baseline_s"] for r in rows)
    total_v = sum(r["verify_s"] for r in rows)
    print(f"{'total':28} {total_b:11.2f} {total_v:9.2f} {total_v / total_b:6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"dtype": args.dtype, "rows": rows}, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
