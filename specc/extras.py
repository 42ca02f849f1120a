"""Optional parts of an installation: the frameworks and extras each command needs, and the
clear error (exit 2) when one is missing.

specc's frameworks are optional extras (``pip install 'specc[torch]'``, ``'specc[keras]'``,
``'specc[train]'``, ``'specc[export]'``).  A command that needs one checks for it with
:func:`require` *before* any work — cheaply, with ``importlib.util.find_spec``, never by
importing TensorFlow — and names the extra that provides it.  :func:`missing_module` turns
a ``ModuleNotFoundError`` raised later (an import deep inside a framework) into the same
error, so the CLI never reports a missing package as an internal error.
"""

from __future__ import annotations

import importlib.util
import sys

from specc.errors import Diagnostic, SpecError

__all__ = ["EnvError", "MissingDependency", "installed", "require", "require_backend", "missing_module", "default_backend", "needs", "PROVIDERS"]

# top-level module → (what it is, the extra that installs it)
PROVIDERS: dict[str, tuple[str, str]] = {
    "torch": ("PyTorch", "torch"),
    "tensorflow": ("TensorFlow", "keras"),
    "keras": ("Keras 3", "keras"),
    "sklearn": ("scikit-learn", "train"),
    "matplotlib": ("matplotlib", "train"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "tf2onnx": ("tf2onnx", "export"),
    "onnxscript": ("onnxscript", "export"),
    "h5py": ("h5py", "keras"),
    "tensorboardX": ("tensorboardX", "tensorboard"),
}

# what each backend needs, in import order
BACKEND_MODULES: dict[str, tuple[str, ...]] = {"torch": ("torch",), "keras": ("keras", "tensorflow")}


class EnvError(SpecError):
    """The environment cannot do what was asked (a missing package, a locked or unwritable
    folder, a full disk): one message and a hint, exit status 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__([Diagnostic(None, message, hint=hint)])


class MissingDependency(EnvError):
    """An optional package a command needs is not installed."""

    def __init__(self, module: str, purpose: str | None = None, hint: str | None = None):
        self.module = module
        name, extra = PROVIDERS.get(module, (module, None))
        what = f"{purpose} needs {name}" if purpose else f"{name} is needed"
        install = f"pip install 'specc[{extra}]'" if extra else f"pip install {module}"
        super().__init__(f"{what}, which is not installed (no module named '{module}')", hint or f"install it with {install}")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported — without importing it."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed package
        return False


def require(module: str, purpose: str | None = None, hint: str | None = None) -> None:
    """Raise :class:`MissingDependency` unless ``module`` is installed."""
    if not installed(module):
        raise MissingDependency(module, purpose, hint)


def require_backend(backend: str, purpose: str | None = None) -> None:
    """Raise :class:`MissingDependency` unless ``backend``'s framework is installed."""
    for module in BACKEND_MODULES.get(backend, ()):
        require(module, purpose or f"the {backend} backend")


def default_backend(purpose: str) -> str:
    """The backend a command uses when none is given: torch if installed, else keras."""
    for backend in ("torch", "keras"):
        if all(installed(m) for m in BACKEND_MODULES[backend]):
            return backend
    raise EnvError(f"{purpose} needs PyTorch or Keras 3, and neither is installed", "install one: pip install 'specc[torch]' or pip install 'specc[keras]'")


def missing_module(exc: BaseException) -> MissingDependency | None:
    """The :class:`MissingDependency` behind ``exc`` (a ``ModuleNotFoundError`` for an
    optional package, possibly as the cause of another error), or None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.split(".")[0]
            if top in PROVIDERS:
                return MissingDependency(top)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class needs:
    """``with needs("specc compile --to keras"): …`` — a ``ModuleNotFoundError`` for an
    optional package inside the block becomes :class:`MissingDependency` for ``purpose``."""

    def __init__(self, purpose: str):
        self.purpose = purpose

    def __enter__(self) -> needs:
        return self

    def __exit__(self, typ, exc, tb) -> bool:
        if exc is not None and not isinstance(exc, MissingDependency):
            missing = missing_module(exc)
            if missing is not None:
                raise MissingDependency(missing.module, self.purpose) from None
        return False
