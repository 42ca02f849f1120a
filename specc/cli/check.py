"""``specc check FILE...``: validate specs and print their summaries (or, with ``--json``,
one result per file: the IR, its summary numbers and the diagnostics — see
:mod:`specc.cli.output`)."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("check", help="validate specs and print a summary of each model")
    p.add_argument("files", nargs="+", metavar="FILE", help=".spec files")
    p.add_argument("--json", action="store_true", help="print a JSON list, one result per file: IR, summary numbers, diagnostics")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    add_limit_options(p)
    p.set_defaults(func=run)


def add_limit_options(p) -> None:
    """--max-nodes / --max-params / --max-activation (default: $SPECC_MAX_… or built in)."""
    from specc.semantics.budget import DEFAULT_MAX_ACTIVATION, DEFAULT_MAX_NODES, DEFAULT_MAX_PARAMS, parse_limit

    g = p.add_argument_group("budgets (checked before the work is done)")
    g.add_argument("--max-nodes", type=parse_limit, metavar="N", help=f"layers, block instances and repetitions a spec may expand to (default $SPECC_MAX_NODES or {DEFAULT_MAX_NODES:,})")
    g.add_argument("--max-params", type=parse_limit, metavar="N", help=f"parameters of the model (default $SPECC_MAX_PARAMS or {DEFAULT_MAX_PARAMS:,})")
    g.add_argument("--max-activation", type=parse_limit, metavar="N", help=f"elements of one layer output per example (default $SPECC_MAX_ACTIVATION or {DEFAULT_MAX_ACTIVATION:,})")


def summary_json(model) -> dict:
    from specc.ir.cost import model_cost

    trainable, frozen = model.count_params()
    return {"params": trainable + frozen, "trainable_params": trainable, "non_trainable_params": frozen, **model_cost(model).to_json()}


def limits_of(args):
    from specc.semantics.budget import Limits

    return Limits(max_nodes=args.max_nodes, max_params=args.max_params, max_activation=args.max_activation)


def run(args) -> int:
    from specc.api import load
    from specc.cli.output import dumps, file_result
    from specc.errors import SpecError

    limits = limits_of(args)

    failed = 0
    results = []
    for i, path in enumerate(args.files):
        try:
            model = load(path, limits)
        except SpecError as e:
            failed += 1
            print(e.render(), file=sys.stderr)
            if args.json:
                results.append(file_result(path, False, e.diagnostics, model=None, summary=None))
            continue
        if args.json:
            results.append(file_result(path, True, model=json.loads(model.to_json()), summary=summary_json(model)))
        elif not args.quiet:
            from specc.summary import print_summary

            if i:
                print()
            print_summary(model)
    if args.json:
        print(dumps(results))
    if failed and not args.quiet and len(args.files) > 1:
        print(f"{failed} of {len(args.files)} files have errors", file=sys.stderr)
    return 1 if failed else 0
