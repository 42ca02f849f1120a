"""How long a user waits for `specc verify` of a small spec, against merely importing both frameworks.

    python benchmarks/verify_latency.py [--rounds 5] [--spec specs/mlp_binary.spec] [--json PATH]

Each round runs, as fresh processes and in rotating order:

* ``imports``: ``python -c "import torch, tensorflow"`` — the least any comparison of the two
  frameworks in one process pays;
* ``in-process``: ``specc verify SPEC`` with ``SPECC_VERIFY_PROCESSES=0`` (both frameworks
  imported and run one after the other in one process: specc before this benchmark);
* ``workers``: ``specc verify SPEC`` as it runs by default (each backend in a worker process
  of its own, imports and work overlapping on two cores; the parent imports neither).

Reported: the median wall time of each and its ratio to ``imports`` (target for ``workers``:
≤ 1.2), and the median CPU time (user + system of the process and its children).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--spec", default=str(ROOT / "specs" / "mlp_binary.spec"))
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    base.pop("SPECC_VERIFY_PROCESSES", None)
    verify = [sys.executable, "-m", "specc", "verify", args.spec]
    cases = {
        "imports": ([sys.executable, "-c", "import torch, tensorflow"], base),
        "in-process": (verify, {**base, "SPECC_VERIFY_PROCESSES": "0"}),
        "workers": (verify, base),
    }
    names = list(cases)
    samples: dict = {n: {"wall": [], "cpu": []} for n in names}
    for r in range(args.rounds):
        order = names[r % 3:] + names[: r % 3]
        for n in order:
            wall, cpu = _run(*cases[n])
            samples[n]["wall"].append(wall)
            samples[n]["cpu"].append(cpu)
        print(f"round {r + 1}: " + ", ".join(f"{n} {samples[n]['wall'][-1]:.1f} s" for n in names), file=sys.stderr, flush=True)
    imp = statistics.median(samples["imports"]["wall"])
    rows = []
    print(f"\n{'case':12} {'wall s':>7} {'/ imports':>9} {'cpu s':>7}")
    for n in names:
        w, c = statistics.median(samples[n]["wall"]), statistics.median(samples[n]["cpu"])
        rows.append({"case": n, "wall_s": w, "ratio": w / imp, "cpu_s": c})
        print(f"{n:12} {w:7.2f} {w / imp:9.2f} {c:7.2f}")
    print(f"median of {args.rounds} rounds; spec {Path(args.spec).name}; target: workers / imports ≤ 1.2")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
