"""``specc weights init|convert``: canonical checkpoints and framework checkpoints."""

from __future__ import annotations

from specc.cli.args import SEED

import sys


def register(sub) -> None:
    p = sub.add_parser("weights", help="create or convert weight checkpoints")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    init = wsub.add_parser("init", help="draw the spec's initial weights into a checkpoint")
    init.add_argument("file", metavar="FILE", help=".spec file")
    init.add_argument("-o", "--output", required=True, metavar="PATH", help="checkpoint to write (.safetensors, .npz, .pt, .weights.h5)")
    init.add_argument("--seed", type=SEED, default=None, help="seed (default: the spec's train seed)")
    init.add_argument("--to", choices=("canonical", "torch", "keras"), help="format (default: from the file name)")
    init.set_defaults(func=run_init)
    conv = wsub.add_parser("convert", help="convert a checkpoint between canonical, torch and keras formats")
    conv.add_argument("file", metavar="FILE", help=".spec file the weights belong to")
    conv.add_argument("source", metavar="IN", help="checkpoint to read")
    conv.add_argument("dest", metavar="OUT", help="checkpoint to write (atomically)")
    conv.add_argument("--from", dest="src_format", choices=("canonical", "torch", "keras"), help="format of IN (default: from its name)")
    conv.add_argument("--to", dest="dst_format", choices=("canonical", "torch", "keras"), help="format of OUT (default: from its name)")
    conv.add_argument("--allow-nonfinite", action="store_true", help="accept weights holding NaN/inf")
    conv.set_defaults(func=run_convert)


def _checkpoint_errors(fn):
    def wrapped(args) -> int:
        from specc.weights.io import CheckpointError

        try:
            return fn(args)
        except CheckpointError as e:
            print(f"specc: error: {e}", file=sys.stderr)
            return 1

    return wrapped


@_checkpoint_errors
def run_init(args) -> int:
    from specc.api import load
    from specc.weights import init_weights
    from specc.weights.convert import write_weights

    model = load(args.file)
    out = write_weights(model, init_weights(model, args.seed), args.output, args.to)
    print(f"wrote {out}", file=sys.stderr)
    return 0


@_checkpoint_errors
def run_convert(args) -> int:
    from specc.api import load
    from specc.weights.convert import convert

    model = load(args.file)
    out = convert(model, args.source, args.dest, args.src_format, args.dst_format, allow_nonfinite=args.allow_nonfinite)
    print(f"wrote {out}", file=sys.stderr)
    return 0
