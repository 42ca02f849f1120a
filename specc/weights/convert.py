"""Move weights between canonical checkpoints and framework checkpoints.

Formats: ``canonical`` (specc's, .safetensors/.npz), ``torch`` (a ``state_dict`` saved by
``torch.save``, read back with ``weights_only=True``; or .safetensors of state-dict keys),
``keras`` (``model.save_weights`` .weights.h5, or a whole ``.keras`` model).  Every
conversion goes through the canonical weights of the spec, so a checkpoint trained in one
framework loads into the other."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from specc.extras import require_backend
from specc.ir.graph import Model
from specc.weights.io import CheckpointError, check_against, check_values
from specc.weights.io import load as load_canonical
from specc.weights.io import save as save_canonical

__all__ = ["read_weights", "write_weights", "convert", "guess_format", "FORMATS"]

FORMATS = ("canonical", "torch", "keras")


def guess_format(path: str | os.PathLike) -> str:
    name = str(path)
    if name.endswith((".pt", ".pth", ".bin")):
        return "torch"
    if name.endswith((".h5", ".keras")):
        return "keras"
    if name.endswith((".safetensors", ".npz")):
        return "canonical"
    raise CheckpointError(f"{path}: cannot tell the format from the name; pass --from/--to (canonical, torch, keras)")


def _expected(model: Model) -> dict[str, tuple[int, ...]]:
    return {f"{n.name}.{w.name}": tuple(w.shape) for n, w in model.weights()}


def _torch_values(p: Path, sd: dict) -> dict:
    """A state_dict's entries as arrays, refusing anything that is not a real float tensor."""
    import torch

    out, problems = {}, []
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            if v.is_complex() or not v.is_floating_point():
                problems.append(f"{k}: {str(v.dtype).removeprefix('torch.')} values; weights are real floating-point numbers")
                continue
            out[k] = v.detach().cpu().double().numpy()
        elif isinstance(v, np.ndarray):
            out[k] = v
        else:
            problems.append(f"{k}: a {type(v).__name__}, not a tensor")
    problems += check_values({k: v for k, v in out.items()}, allow_nonfinite=True)
    if problems:
        raise CheckpointError(f"{p}: " + "; ".join(problems[:6]) + (f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""))
    return out


def read_weights(model: Model, path: str | os.PathLike, fmt: str | None = None, *, allow_nonfinite: bool = False) -> dict[str, np.ndarray]:
    """Canonical weights of ``model`` from a checkpoint in any format: real floating-point
    arrays of the model's shapes, finite unless ``allow_nonfinite`` (else CheckpointError
    naming the tensor)."""
    fmt = fmt or guess_format(path)
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint")
    if fmt in ("torch", "keras"):
        require_backend(fmt, f"reading a {fmt} checkpoint ({p})")
    if fmt == "canonical":
        w = load_canonical(p)
    elif fmt == "torch":
        from specc.backends.torch.plan import make_plan
        from specc.backends.torch.weights import from_state_dict

        if p.suffix == ".safetensors":
            from specc.weights.io import load as load_safetensors

            sd = load_safetensors(p)
        else:
            import torch

            try:
                sd = torch.load(p, map_location="cpu", weights_only=True)
            except Exception as e:  # noqa: BLE001 - any unreadable file
                raise CheckpointError(f"{p}: not a readable torch state_dict ({type(e).__name__}: {e})") from None
            if not isinstance(sd, dict) or not all(isinstance(k, str) for k in sd):
                raise CheckpointError(f"{p}: expected a state_dict (a dict of tensors by name)")
        sd = _torch_values(p, sd)
        try:
            w = from_state_dict(make_plan(model), sd)
        except KeyError as e:
            raise CheckpointError(f"{p}: the state_dict lacks {e} for model {model.name}") from None
        except (ValueError, RuntimeError, IndexError, TypeError) as e:
            raise CheckpointError(f"{p}: the state_dict does not fit model {model.name} ({type(e).__name__}: {e})") from None
    elif fmt == "keras":
        from specc.backends.keras.bundle import build_keras

        from specc.weights.keras_file import inspect_h5, inspect_keras_zip

        if p.suffix == ".keras":
            inspect_keras_zip(p, allow_nonfinite=allow_nonfinite)
        else:
            inspect_h5(p, allow_nonfinite=allow_nonfinite)
        km = build_keras(model, None, compile=False)
        try:
            if p.suffix == ".keras":
                import keras

                import specc.backends.keras.lib  # noqa: F401 - registers specc's serializable classes

                other = keras.models.load_model(p, compile=False)
                km.set_weights(other.get_weights())
            else:
                km.load_weights(p)
        except Exception as e:  # noqa: BLE001 - surface any reader error as a checkpoint error
            raise CheckpointError(f"{p}: cannot load keras weights for model {model.name} ({type(e).__name__}: {e})") from None
        w = km.specc.get_weights(km)
    else:
        raise CheckpointError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    problems = check_against(w, _expected(model)) or check_values(w, allow_nonfinite=allow_nonfinite)
    if problems:
        hint = "" if allow_nonfinite or not any("NaN" in q for q in problems) else " (pass --allow-nonfinite to accept NaN/inf)"
        raise CheckpointError(f"{p}: does not fit model {model.name}: " + "; ".join(problems[:6]) + hint)
    return w


def write_weights(model: Model, weights: dict[str, np.ndarray], path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write canonical ``weights`` of ``model`` as a checkpoint in ``fmt`` (atomically)."""
    fmt = fmt or guess_format(path)
    p = Path(path)
    if fmt == "canonical":
        return save_canonical(weights, p, {"model": model.name})
    from specc.fsutil import atomic_write

    if fmt in ("torch", "keras"):
        require_backend(fmt, f"writing a {fmt} checkpoint ({p})")

    if fmt == "torch":
        from specc.backends.torch.plan import make_plan
        from specc.backends.torch.weights import to_state_dict

        sd = to_state_dict(make_plan(model), weights)
        if p.suffix == ".safetensors":
            from safetensors.numpy import save_file

            atomic_write(p, lambda tmp: save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}, tmp))
        else:
            import torch

            tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}
            atomic_write(p, lambda tmp: torch.save(tensors, tmp))
        return p
    if fmt == "keras":
        from specc.backends.keras.bundle import build_keras

        km = build_keras(model, weights, compile=False)
        suffix = ".keras" if p.suffix == ".keras" else ".weights.h5"
        if not str(p).endswith(suffix):
            raise CheckpointError(f"{p}: keras weights files end in .weights.h5 (or .keras for a whole model)")

        def write(tmp: str) -> None:
            # keras insists on the extension; write beside and move over the temp name
            real = tmp + suffix
            (km.save if suffix == ".keras" else km.save_weights)(real)
            os.replace(real, tmp)

        atomic_write(p, write)
        return p
    raise CheckpointError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def convert(model: Model, src, dst, src_format: str | None = None, dst_format: str | None = None, *, allow_nonfinite: bool = False) -> Path:
    return write_weights(model, read_weights(model, src, src_format, allow_nonfinite=allow_nonfinite), dst, dst_format)
