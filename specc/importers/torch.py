"""PyTorch modules → an import :class:`~specc.importers.graph.Builder`, via torch.fx.

The module is traced symbolically (``torch.fx.symbolic_trace``) and its shapes are
propagated with example inputs (``--input``, dims in the source's own layout).  Every
value carries its **layout** relative to the spec's channels-last canonical tensor: a
permutation ``perm`` with ``torch_value = canonical.permute(perm)``.  An NCHW image has
``perm = (0, 3, 1, 2)``; a ``x.permute(0, 2, 3, 1)`` in the source only changes ``perm``
(no layer); a layer that reads its input in a particular layout (``nn.Linear`` the last
axis, ``nn.Conv2d`` channels-first) gets a spec ``permute`` first when the value is in
another one.  So ``torch.flatten`` of an NCHW image — channels-first order — becomes
``permute([3, 1, 2]) -> flatten``: the spec computes the source's function exactly,
flatten order included, and the next dense layer's kernel is just ``weight.T``.

Weights are read through the torch backend's own per-op converters (``from_torch`` in
``specc/backends/torch/ops``), which understand ``nn.Linear``/``nn.Conv*``/``nn.GRU``…
state dicts because specc's torch models use the same modules and keys.
"""

from __future__ import annotations

from typing import Any

from specc.importers.graph import Builder, ImportFailure
from specc.importers.layouts import V, _canon_shape, _cf, _ident

__all__ = ["import_torch", "torch_weights"]


class _TorchImporter:
    def __init__(self, module, inputs):
        import torch

        self.torch = torch
        self.module = module
        self.inputs = inputs
        self.b = Builder(type(module).__name__, "torch")
        self.sources: dict[str, Any] = {}
        self.vals: dict[str, V] = {}
        self.called: dict[str, str] = {}

    # ---- helpers
    def where(self, node) -> str:
        if node.op == "call_module":
            return f"module '{node.target}' ({type(self.gm.get_submodule(node.target)).__module__.replace('torch.nn.modules.', 'torch.nn.').rsplit('.', 1)[0]}.{type(self.gm.get_submodule(node.target)).__name__})"
        tgt = getattr(node.target, "__name__", str(node.target))
        return f"call '{node.name}' ({node.op} {tgt})"

    def fail(self, node, msg: str, missing: str | None = None):
        raise ImportFailure(msg, self.where(node), missing)

    def scope(self, node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        paths = [v[0] if isinstance(v, tuple) else v for v in stack.values()]
        paths = [p for p in paths if p]
        return paths[-1] + "." if paths else ""

    def op(self, kind: str, **params):
        from specc.ir.ops import LAYERS

        return LAYERS.classes[kind].model_validate(params)

    def add(self, node, name: str, op, ins: list[str], perm, shape, module=None, source=None, value=True) -> V:
        outs = self.b.add(name, op, ins, source or self.where(node))
        if value:  # the fx node computing this output, and its layout
            self.b.layers[-1].value = (node.name, tuple(perm))
        if module is not None:
            self.b.layers[-1].src = (module, node.target)
        return V("t", outs[0], tuple(perm), tuple(shape))

    def fn_name(self, node, base: str) -> str:
        return self.scope(node) + base

    def tensor(self, node, a) -> V:
        from torch.fx import Node

        if not isinstance(a, Node):
            self.fail(node, f"a constant operand ({a!r}) is not expressible in a spec", "constants in the graph")
        v = self.vals[a.name]
        if v.kind == "pooled":
            v = self.materialise(node, v)
        if v.kind != "t":
            self.fail(node, f"this operand ({v.kind}) is not a tensor the spec language can express")
        return v

    def materialise(self, node, v: V) -> V:
        """A global pool kept as (N, C, 1, 1): the spec value reshaped back, made on first use."""
        if "made" not in v.extra:
            c = v.shape[1]
            rank = len(v.shape)
            op = self.op("reshape", shape=[1] * (rank - 2) + [c])
            v.extra["made"] = self.add(node, v.extra["name"] + "_keepdims", op, [v.tid], _cf(rank), v.shape, source=v.extra["source"] + " (keepdim)", value=False)
        return v.extra["made"]

    def realign(self, node, v: V, want: tuple[int, ...]) -> str:
        """The spec tensor holding ``v`` with layout ``want`` (a permute layer when needed)."""
        if v.perm == want:
            return v.tid  # type: ignore[return-value]
        inv = [0] * len(want)
        for k, j in enumerate(want):
            inv[j] = k
        dims = [v.perm[inv[j]] for j in range(1, len(want))]
        if dims == list(range(1, len(want))):
            return v.tid  # type: ignore[return-value]
        name = self.fn_name(node, f"{node.name}_permute")
        op = self.op("permute", dims=dims)
        out = self.add(node, name, op, [v.tid], want, v.shape, source=self.where(node) + " (layout)", value=False)
        return out.tid  # type: ignore[return-value]

    # ---- the walk
    def run(self) -> Builder:
        torch = self.torch
        from torch.fx import symbolic_trace
        from torch.fx.passes.shape_prop import ShapeProp

        try:
            self.gm = symbolic_trace(self.module)
        except Exception as e:  # noqa: BLE001 - torch.fx's message says which construct
            raise ImportFailure(f"torch.fx cannot trace {type(self.module).__name__}.forward: {type(e).__name__}: {e}", f"module {type(self.module).__name__}", "untraceable Python control flow") from None
        placeholders = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        if len(self.inputs) != len(placeholders):
            names = ", ".join(p.name for p in placeholders)
            raise ImportFailure(
                f"{type(self.module).__name__}.forward takes {len(placeholders)} input(s) ({names}); give each with "
                f"--input NAME:DTYPE[DIMS] (dims without the batch, in the module's own layout, e.g. x:float32[1,28,28])"
            )
        examples = []
        gen = torch.Generator().manual_seed(0)
        param_dtype = next((p.dtype for p in self.module.parameters() if p.is_floating_point()), torch.float32)
        for spec in self.inputs:
            dt = getattr(torch, spec.dtype)
            dt = param_dtype if dt.is_floating_point else dt  # trace in the module's own precision
            shape = (2, *spec.dims)
            examples.append(torch.randn(shape, generator=gen, dtype=dt) if dt.is_floating_point else torch.zeros(shape, dtype=dt))
        was = self.module.training
        self.gm.eval()
        try:
            import contextlib
            import io

            # ShapeProp prints the traceback of a failing node itself; the error below says it
            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
                ShapeProp(self.gm).propagate(*examples)
        except Exception as e:  # noqa: BLE001
            root = e
            while root.__cause__ is not None:
                root = root.__cause__
            first = (str(root).strip().splitlines() or [""])[0]
            raise ImportFailure(
                f"running {type(self.module).__name__} on the example inputs failed ({type(root).__name__}: {first}); "
                "check --input: dims without the batch, in the module's own layout",
                f"module {type(self.module).__name__}",
            ) from None
        finally:
            self.gm.train(was)
        for node, spec in zip(placeholders, self.inputs, strict=True):
            rank = len(spec.dims) + 1
            cf = self._wants_cf(node) and rank >= 3 and spec.dtype.startswith(("float", "bfloat"))
            perm = _cf(rank) if cf else _ident(rank)
            v = V("t", None, perm, (2, *spec.dims))
            canon = _canon_shape(v)[1:]
            layout = ""
            if cf:
                letters = {3: ("NCL", "(batch, L, C)"), 4: ("NCHW", "(batch, H, W, C)")}.get(rank, ("channels-first", "channels-last"))
                layout = f"source {letters[0]} (batch, {', '.join(map(str, spec.dims))}) → spec channels-last {letters[1]}"
            v.tid = self.b.add_input(spec.name, spec.dtype, canon, layout)
            self.b.inputs[-1].perm = perm
            self.vals[node.name] = v
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                self.output(node)
                continue
            if node.op == "get_attr":
                self.vals[node.name] = V("attr", data=node.target)
                continue
            self.vals[node.name] = self.visit(node)
        self.b.traced = self.gm
        return self.b

    def _wants_cf(self, node) -> bool:
        """Whether an input feeds (through elementwise layers) a channels-first layer."""
        from torch import nn

        cf_mods = (nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d)
        seen = set()
        todo = list(node.users)
        while todo:
            u = todo.pop()
            if u in seen:
                continue
            seen.add(u)
            if u.op == "call_module" and isinstance(self.gm.get_submodule(u.target), cf_mods):
                return True
            name = getattr(u.target, "__name__", str(u.target))
            if name in ("conv1d", "conv2d", "max_pool2d", "max_pool1d", "avg_pool2d", "adaptive_avg_pool2d"):
                return True
            if u.op == "call_module" and isinstance(self.gm.get_submodule(u.target), (nn.ReLU, nn.Dropout, nn.Identity, nn.BatchNorm1d)):
                todo.extend(u.users)
            elif u.op in ("call_function", "call_method") and name in ("pad", "relu", "dropout", "contiguous"):
                todo.extend(u.users)
        return False

    def output(self, node) -> None:
        outs = node.args[0]
        items = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        for a in items:
            v = self.tensor(node, a)
            if v.perm != _ident(len(v.perm)):
                self.b.notes.append(f"output {a}: the source returns it channels-first; the spec's output is channels-last {_canon_shape(v)[1:]}")
            self.b.outputs.append(v.tid)

    def visit(self, node) -> V:
        if node.op == "call_module":
            sub = self.gm.get_submodule(node.target)
            if node.target in self.called and any(True for _ in sub.parameters()):
                self.fail(node, "this module is called more than once (shared weights are not expressible in a spec)", "weight sharing")
            self.called[node.target] = node.name
            from specc.importers.torch_modules import module

            return module(self, node, self.gm.get_submodule(node.target))
        from specc.importers.torch_modules import function

        return function(self, node)


def import_torch(module, inputs) -> tuple[Builder, dict[str, Any]]:
    """(builder, {builder layer name: torch module}) for an ``nn.Module``."""
    imp = _TorchImporter(module, inputs)
    b = imp.run()
    return b, imp.sources


_RULES = {
    "dense": "kernel = weight.T",
    "conv1d": "kernel = weight (O, I, L) → (L, I, O)",
    "conv2d": "kernel = weight (O, I, H, W) → (H, W, I, O)",
    "batch_norm": "weight → gamma, bias → beta, running_mean → moving_mean, running_var → moving_variance",
    "layer_norm": "weight → gamma, bias → beta",
    "embedding": "weight → embeddings",
    "lstm": "kernel = weight_ih_l0.T, recurrent_kernel = weight_hh_l0.T (gates i, f, g, o), bias = bias_ih_l0 + bias_hh_l0",
    "gru": "gates r, z, n → z, r, h; kernel = weight_ih_l0.T, recurrent_kernel = weight_hh_l0.T; bias rows = bias_ih_l0, bias_hh_l0",
    "simple_rnn": "kernel = weight_ih_l0.T, recurrent_kernel = weight_hh_l0.T, bias = bias_ih_l0 + bias_hh_l0",
    "bidirectional": "per direction as the cell; the backward direction from the *_reverse parameters",
}


#: where torch.nn's state-dict keys differ from specc's own torch modules' (same meaning)
NN_KEYS = {"batch_norm": {"running_mean": "moving_mean", "running_var": "moving_var"}}


def torch_weights(model, node, source) -> tuple[dict, tuple[list[str], str]]:
    """Canonical weights of IR ``node`` from ``(module, its path)`` (the backend's from_torch)."""
    module, path = source
    import numpy as np

    from specc.backends.torch.plan import CANON, TORCH_OPS, NodeInfo, _load_ops

    _load_ops()
    names = [w.name for w in model.node_weights(node)]
    if not names:
        return {}, ([], "")
    sd = {k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items() if k != "num_batches_tracked"}
    alias = NN_KEYS.get(node.op.kind, {})
    sd_specc = {alias.get(k, k): v for k, v in sd.items()}
    info = NodeInfo(node, model.input_types(node), [CANON] * len(node.inputs), ())
    got = TORCH_OPS[node.op.kind].from_torch(info, sd_specc)
    missing = [n for n in names if n not in got]
    if missing:
        raise ImportFailure(f"parameters {missing} not found in its state dict ({sorted(sd)})", f"module for {node.name}")
    kind = node.op.kind if node.op.kind != "bidirectional" else "bidirectional"
    return {n: np.asarray(got[n], dtype=np.float64) for n in names}, ([f"{path}.{k}" for k in sorted(sd)], _RULES.get(kind, ""))
