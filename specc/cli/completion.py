"""``specc completion bash|zsh|fish``: print the shell code that completes specc's
sub-commands, options and their choices (argcomplete: the completions come from the same
argparse parser the command uses, so they cannot drift from it).

Install it with ``eval "$(specc completion bash)"`` in ``~/.bashrc``, ``eval "$(specc
completion zsh)"`` in ``~/.zshrc``, or ``specc completion fish | source`` in fish's
``config.fish``.  Needs the optional extra ``specc[shell]`` (argcomplete)."""

from __future__ import annotations

import sys

SHELLS = ("bash", "zsh", "fish")


def register(sub) -> None:
    p = sub.add_parser("completion", help="print shell completion code (bash, zsh, fish)")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        import argcomplete
    except ImportError:
        print("specc completion: error: shell completion needs the argcomplete package", file=sys.stderr)
        print("  = help: pip install 'specc[shell]'", file=sys.stderr)
        return 1
    sys.stdout.write(argcomplete.shellcode(["specc"], shell=args.shell))
    return 0
