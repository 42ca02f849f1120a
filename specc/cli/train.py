"""``specc train FILE``: train a spec in torch or keras (see ``specc.train``)."""

from __future__ import annotations

from specc.cli.args import POSITIVE, SEED, int_range

MAX_REPLICAS = 64  # logical CPU devices TensorFlow sets up quickly; more only slows a CPU run


def register(sub) -> None:
    p = sub.add_parser("train", help="train a spec (torch or keras) with checkpoints, metrics and curves")
    p.add_argument("file", metavar="FILE", help=".spec file with a train section")
    p.add_argument("--backend", choices=("torch", "keras"), default=None, help="framework to train in (default: torch if installed, else keras)")
    p.add_argument("--data", default="digits", metavar="digits|NPZ|synthetic", help="scikit-learn digits (default), an .npz file (x, y[, x_val, y_val]) or synthetic data from the spec's types")
    p.add_argument("--epochs", type=POSITIVE, help="epochs (default: the spec's)")
    p.add_argument("--batch", type=POSITIVE, help="batch size (default: the spec's)")
    p.add_argument("--seed", type=SEED, help="seed of initial weights, shuffling and dropout (default: the spec's)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")
    p.add_argument("--out", metavar="DIR", help="checkpoints, history and learning curves (default runs/<model>-<backend>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    p.add_argument("--init-from", metavar="CKPT", help="start from saved canonical weights (matched by layer name and shape)")
    p.add_argument("--allow-nonfinite", action="store_true", help="accept NaN/inf in the --init-from weights")
    p.add_argument("--amp", action="store_true", help="mixed precision: torch autocast (bfloat16 on CPU, float16 + GradScaler on CUDA); keras mixed_bfloat16")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files to OUT/tensorboard (needs specc[tensorboard])")
    p.add_argument("--compile", action="store_true", help="torch: torch.compile the training step")
    p.add_argument("--replicas", type=int_range(1, MAX_REPLICAS + 1), default=1, help="keras: mirror training over N logical CPU devices (GPUs are used automatically)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, lines or table (errors still print)")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.train import TrainOptions, train

    train(
        TrainOptions(
            spec=args.file,
            backend=args.backend,
            data=args.data,
            epochs=args.epochs,
            batch=args.batch,
            seed=args.seed,
            device=args.device,
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            init_from=args.init_from,
            allow_nonfinite=args.allow_nonfinite,
            amp=args.amp,
            tensorboard=args.tensorboard,
            compile=args.compile,
            replicas=args.replicas,
            quiet=args.quiet,
        )
    )
    return 0
