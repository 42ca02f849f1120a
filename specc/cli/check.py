"""``specc check FILE...``: validate specs and print their summaries (or IR JSON)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("check", help="validate specs and print a summary of each model")
    p.add_argument("files", nargs="+", metavar="FILE", help=".spec files")
    p.add_argument("--json", action="store_true", help="print the validated IR as JSON instead of a table")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.api import load
    from specc.errors import SpecError

    failed = 0
    results = []
    for i, path in enumerate(args.files):
        try:
            model = load(path)
        except SpecError as e:
            failed += 1
            print(e.render(), file=sys.stderr)
            if args.json:
                results.append({"file": path, "diagnostics": [d.to_json() for d in e.diagnostics]})
            continue
        if args.json:
            results.append({"file": path, "model": json.loads(model.to_json())})
        elif not args.quiet:
            from specc.summary import print_summary

            if i:
                print()
            print_summary(model)
    if args.json:
        out = results[0].get("model", results[0]) if len(args.files) == 1 else results
        print(json.dumps(out, indent=2))
    if failed and not args.quiet and len(args.files) > 1:
        print(f"{failed} of {len(args.files)} files have errors", file=sys.stderr)
    return 1 if failed else 0
