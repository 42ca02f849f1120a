"""Run specc commands as if some packages were not installed.

    python tests/hide_packages.py torch,onnx CMDS.json

hides the named top-level packages — ``importlib.util.find_spec`` returns None for them and
importing them raises ``ModuleNotFoundError``, exactly as when they are not installed — then
runs each command of CMDS.json (a list of argument lists) through ``specc.cli.main`` in this
process and prints one JSON line per command: its exit status, its stderr, and the hidden
packages that were imported anyway (there must be none)."""

from __future__ import annotations

import contextlib
import importlib.machinery
import io
import json
import sys

HIDDEN = {n for n in sys.argv[1].split(",") if n}


class _HidingFinder(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)


sys.meta_path[:] = [_HidingFinder if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
for name in list(sys.modules):
    if name.partition(".")[0] in HIDDEN:
        del sys.modules[name]


def main() -> None:
    from specc.cli import main as specc_main

    commands = json.loads(open(sys.argv[2], encoding="utf-8").read())
    for argv in commands:
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = specc_main(argv)
            except SystemExit as e:  # argparse
                rc = e.code
        leaked = sorted(n for n in HIDDEN if n in sys.modules)
        print(json.dumps({"argv": argv, "rc": rc, "stderr": err.getvalue(), "leaked": leaked}), flush=True)


if __name__ == "__main__":
    main()
