"""The ``specc`` command.  Each sub-command lives in its own module here with a
``register(subparsers)`` that adds its parser and sets ``func``; heavy imports (torch,
tensorflow) happen inside the command, never at start-up."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from specc import __version__
from specc.errors import SpecError, UsageError

__all__ = ["main"]

_COMMANDS = ("check", "fmt", "schema", "compile", "build_cmd", "import_cmd", "verify", "selftest", "fuzz", "train", "evaluate", "export", "weights", "graph", "completion", "lsp")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with a short message
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(
        prog="specc",
        description="Compile neural-network model specs to PyTorch and Keras, and prove the backends agree.",
    )
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"specc.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"specc.cli.{name}":
                continue  # command not part of this build
            raise
        mod.register(sub)
    return parser


def _complete(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's completion request (``specc completion``) and exit; otherwise return."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:  # completion code installed, package gone: complete nothing
        sys.exit(1)
    argcomplete.autocomplete(parser)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    if argv is None:  # the program itself (not a call from Python)
        # pydantic looks for plugins (an entry-point scan of every installed distribution,
        # ~60 ms of each command's start) when it builds its first validator; specc's
        # commands use none.  A user's own setting of the variable wins.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        _complete(parser)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except SpecError as e:
        print(e.render(), file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except UsageError as e:
        print(f"specc: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except (ImportError, OSError, MemoryError) as e:
        # the environment, not the input: a missing package, a full disk, an unwritable
        # folder, not enough memory — said plainly, exit 2 (see specc.extras)
        problem = environment_error(e)
        if problem is None:
            return _internal(e)
        print(problem.render(), file=sys.stderr)
        return problem.exit_code
    except Exception as e:  # noqa: BLE001 - last resort: a message, not a traceback
        return _internal(e)


def environment_error(e: BaseException):
    """The :class:`~specc.extras.EnvError` that explains ``e``, or None."""
    from specc.extras import EnvError, missing_module

    missing = missing_module(e)
    if missing is not None:
        return missing
    if isinstance(e, MemoryError):
        return EnvError(f"not enough memory ({e or 'allocation failed'})", "use a smaller --batch, a smaller model, or a machine with more memory")
    if isinstance(e, OSError) and e.errno is not None:
        from specc.fsutil import describe_os_error

        return EnvError(describe_os_error(e), _os_hint(e.errno))
    return None


def _os_hint(errno_: int) -> str | None:
    import errno

    if errno_ in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some space (nothing was written half-way), then run the command again"
    if errno_ in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a path you can write to"
    return None


def _internal(e: BaseException) -> int:
    """The last resort: a bug in specc — one line, not a traceback (exit 3)."""
    if os.environ.get("SPECC_DEBUG"):
        traceback.print_exc()
    else:
        print(f"specc: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        print("(set SPECC_DEBUG=1 to see the traceback, and please report it)", file=sys.stderr)
    return 3
