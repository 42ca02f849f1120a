"""The torch.fx importer's vocabulary: one handler per ``nn`` module class and per
functional call / tensor method, each producing IR layers (or only a new layout) from a
traced value.  Whatever is not here is an :class:`ImportFailure` naming the module/call."""

from __future__ import annotations

import operator

from specc.importers.layouts import V, _cf, _ident

__all__ = ["module", "function"]


def _pair(v, n: int) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [int(v)] * n


def _axis(v: V, dim: int) -> int:
    """The spec axis (batch = 0) of torch dim ``dim`` of ``v``."""
    rank = len(v.perm)
    d = dim + rank if dim < 0 else dim
    return v.perm[d]


def _activation_params(kind: str, **kw) -> dict:
    return {"kind": kind, **kw}


def _act_layer(imp, node, v: V, fn: dict, name: str) -> V:
    op = imp.op("activation", fn=fn)
    return imp.add(node, name, op, [v.tid], v.perm, v.shape)


def _out_shape(node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


# --------------------------------------------------------------------------- modules


def module(imp, node, m) -> V:
    from torch import nn

    name = node.target
    where = imp.where(node)
    if len(node.args) != 1 or node.kwargs:
        if not isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)) or len(node.args) != 1:
            imp.fail(node, "only modules called with one tensor are expressible (extra arguments such as initial states are not)", "module call arguments")
    if isinstance(m, nn.Identity):
        return imp.vals[node.args[0].name]
    raw = imp.vals.get(getattr(node.args[0], "name", ""), None)
    prepad = None
    if raw is not None and raw.kind == "padded":  # F.pad(x, …) then a convolution: its padding
        if not isinstance(m, (nn.Conv1d, nn.Conv2d)):
            imp.fail(node, "zero padding (F.pad) is expressible only right before a convolution", "zero padding layers")
        prepad = raw.data
        node_arg = raw.extra["of"]
        x = node_arg
    else:
        x = imp.tensor(node, node.args[0])
    out_shape = _out_shape(node)
    rank = len(x.shape)
    if isinstance(m, nn.Linear):
        t = imp.realign(node, x, _ident(rank))
        return imp.add(node, name, imp.op("dense", units=m.out_features, use_bias=m.bias is not None), [t], _ident(rank), out_shape, m)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        n = 1 if isinstance(m, nn.Conv1d) else 2
        if m.padding_mode != "zeros":
            imp.fail(node, f"padding_mode={m.padding_mode!r} is not expressible (zero padding only)", "non-zero padding modes")
        pad = m.padding if isinstance(m.padding, str) else [[p, p] for p in _pair(m.padding, n)]
        if pad == "same" and any(s != 1 for s in m.stride):  # pragma: no cover - torch refuses it
            imp.fail(node, "padding='same' with stride > 1", "strided same padding")
        if prepad is not None:
            if isinstance(pad, str):
                if pad != "valid":
                    imp.fail(node, "F.pad before a convolution with padding='same'", "combined paddings")
                pad = [[0, 0] for _ in range(n)]
            pad = [[p[0] + q[0], p[1] + q[1]] for p, q in zip(pad, prepad, strict=True)]
        if isinstance(pad, list) and all(p == [0, 0] for p in pad):
            pad = "valid"
        t = imp.realign(node, x, _cf(rank))
        op = imp.op(
            f"conv{n}d",
            filters=m.out_channels,
            kernel=list(m.kernel_size),
            stride=list(m.stride),
            padding=pad,
            dilation=list(m.dilation),
            groups=m.groups,
            use_bias=m.bias is not None,
        )
        return imp.add(node, name, op, [t], _cf(rank), out_shape, m)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.momentum is None:
            imp.fail(node, "momentum=None (a cumulative moving average) is not expressible", "cumulative batch-norm averages")
        if not m.track_running_stats:
            imp.fail(node, "track_running_stats=False (batch statistics in inference too) is not expressible", "batch norm without running statistics")
        want = _ident(rank) if rank == 2 else _cf(rank)
        t = imp.realign(node, x, want)
        op = imp.op("batch_norm", momentum=1.0 - float(m.momentum), epsilon=float(m.eps), center=m.affine, scale=m.affine)
        imp.b.notes.append(
            f"{name}: torch momentum {m.momentum} (weight of the new batch statistics) → spec momentum {1.0 - float(m.momentum):g} "
            "(weight of the old ones); eps → epsilon.  The spec's moving variance is updated with the biased batch variance "
            "(torch: unbiased) — equal in inference, the moving variance differs after training steps"
        )
        return imp.add(node, name, op, [t], want, out_shape, m)
    if isinstance(m, nn.LayerNorm):
        if len(m.normalized_shape) != 1:
            imp.fail(node, f"normalized_shape {tuple(m.normalized_shape)} spans several axes; specs normalise the last axis", "layer norm over several axes")
        t = imp.realign(node, x, _ident(rank))
        affine = m.elementwise_affine
        has_bias = affine and getattr(m, "bias", None) is not None
        if affine and not has_bias:
            imp.fail(node, "elementwise_affine without bias is not expressible", "layer norm without bias")
        op = imp.op("layer_norm", epsilon=float(m.eps), center=affine, scale=affine)
        return imp.add(node, name, op, [t], _ident(rank), out_shape, m)
    if isinstance(m, nn.Embedding):
        for opt, neutral in (("padding_idx", None), ("max_norm", None), ("scale_grad_by_freq", False), ("sparse", False)):
            if getattr(m, opt) != neutral:
                imp.fail(node, f"{opt}={getattr(m, opt)!r} is not expressible in a spec", f"embedding {opt}")
        return imp.add(node, name, imp.op("embedding", vocab=m.num_embeddings, dim=m.embedding_dim), [x.tid], _ident(len(out_shape)), out_shape, m)
    if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
        return _recurrent(imp, node, m, x)
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        kind = ("maxpool" if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) else "avgpool") + ("1d" if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) else "2d")
        return _pool(imp, node, x, kind, m.kernel_size, m.stride, m.padding, getattr(m, "dilation", 1), m.ceil_mode, getattr(m, "count_include_pad", False), name, out_shape)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d)):
        return _adaptive(imp, node, x, m.output_size, "max" if isinstance(m, nn.AdaptiveMaxPool2d) else "avg", name)
    if isinstance(m, nn.Flatten):
        return _flatten(imp, node, x, m.start_dim, m.end_dim, name)
    if isinstance(m, nn.Dropout):
        return imp.add(node, name, imp.op("dropout", rate=float(m.p)), [x.tid], x.perm, x.shape)
    acts = {
        nn.ReLU: lambda: {"kind": "relu"},
        nn.ReLU6: lambda: {"kind": "relu6"},
        nn.Sigmoid: lambda: {"kind": "sigmoid"},
        nn.Tanh: lambda: {"kind": "tanh"},
        nn.SELU: lambda: {"kind": "selu"},
        nn.SiLU: lambda: {"kind": "silu"},
        nn.Hardsigmoid: lambda: {"kind": "hard_sigmoid"},
        nn.GELU: lambda: {"kind": "gelu", "approximate": m.approximate == "tanh"},
        nn.ELU: lambda: {"kind": "elu", "alpha": float(m.alpha)},
        nn.LeakyReLU: lambda: {"kind": "leaky_relu", "alpha": float(m.negative_slope)},
        nn.Softmax: lambda: {"kind": "softmax", "axis": _axis(x, m.dim if m.dim is not None else -1)},
        nn.LogSoftmax: lambda: {"kind": "log_softmax", "axis": _axis(x, m.dim if m.dim is not None else -1)},
    }
    for cls, fn in acts.items():
        if type(m) is cls:
            if cls in (nn.Softmax, nn.LogSoftmax) and m.dim is None:
                imp.fail(node, "softmax without dim (torch's implicit dim) is ambiguous; pass dim", "implicit softmax dim")
            return _act_layer(imp, node, x, fn(), name)
    if type(m) is nn.Softplus:
        if m.beta != 1 or m.threshold != 20:
            imp.fail(node, "Softplus with beta/threshold other than the defaults is not expressible", "parametrised softplus")
        return _act_layer(imp, node, x, {"kind": "softplus"}, name)
    imp.fail(node, f"{type(m).__name__} has no spec equivalent", f"torch.nn.{type(m).__name__}")
    raise AssertionError(where)  # pragma: no cover


def _pool(imp, node, x: V, kind, k, s, p, d, ceil, count_pad, name, out_shape) -> V:
    n = 1 if kind.endswith("1d") else 2
    k = _pair(k, n)
    s = _pair(s if s is not None else k, n)
    p = _pair(p, n)
    if _pair(d, n) != [1] * n:
        imp.fail(node, "dilated pooling is not expressible", "pooling dilation")
    if ceil:
        imp.fail(node, "ceil_mode=True is not expressible (specs use valid/same/explicit padding)", "pooling ceil_mode")
    if kind.startswith("avg") and any(p) and count_pad:
        imp.fail(node, "average pooling counting padded zeros (count_include_pad=True with padding) is not expressible; the spec never counts padded cells", "count_include_pad")
    rank = len(x.shape)
    t = imp.realign(node, x, _cf(rank))
    params = {"pool": k, "padding": "valid" if not any(p) else [[q, q] for q in p]}
    if s != k:
        params["stride"] = s
    return imp.add(node, name, imp.op(kind, **params), [t], _cf(rank), out_shape, source=imp.where(node))


def _adaptive(imp, node, x: V, size, mode: str, name) -> V:
    n = len(x.shape) - 2
    if _pair(size, n) != [1] * n:
        imp.fail(node, f"adaptive pooling to {size} is not expressible (only to 1, a global pooling)", "adaptive pooling")
    t = imp.realign(node, x, _cf(len(x.shape)))
    op = imp.op(f"global_{mode}pool{n}d")
    outs = imp.b.add(name, op, [t], imp.where(node))
    imp.b.layers[-1].value = (node.name, "squeeze")
    return V("pooled", outs[0], _cf(len(x.shape)), (x.shape[0], x.shape[1], *([1] * n)), extra={"name": name, "source": imp.where(node)})


def _flatten(imp, node, x: V, start: int, end: int, name) -> V:
    rank = len(x.shape)
    if start not in (1, 1 - rank) or end not in (-1, rank - 1):
        imp.fail(node, f"flatten of dims {start}..{end} is not expressible (specs flatten every non-batch axis)", "partial flatten")
    if x.kind == "pooled":
        return V("t", x.tid, (0, 1), (x.shape[0], x.shape[1]))
    if rank == 2:
        return x
    t = imp.realign(node, x, _ident(rank))
    size = 1
    for dsz in x.shape[1:]:
        size *= dsz
    return imp.add(node, name, imp.op("flatten"), [t], (0, 1), (x.shape[0], size))


def _recurrent(imp, node, m, x: V) -> V:
    from torch import nn

    kind = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "simple_rnn"}[type(m)]
    if not m.batch_first:
        imp.fail(node, "batch_first=False (time-major tensors) is not expressible; specs are batch-first: construct it with batch_first=True", "time-major recurrences")
    if m.num_layers != 1:
        imp.fail(node, f"num_layers={m.num_layers}: write one recurrent module per layer", "stacked torch recurrences")
    if getattr(m, "proj_size", 0):
        imp.fail(node, "proj_size (projected LSTM) is not expressible", "LSTM projections")
    if len(x.shape) != 3:
        imp.fail(node, "expects a (batch, time, features) input")
    t = imp.realign(node, x, _ident(3))
    uses = _rnn_uses(imp, node)
    params: dict = {"kind": kind, "units": m.hidden_size, "use_bias": m.bias}
    if kind == "simple_rnn":
        params["activation"] = {"kind": m.nonlinearity}
    if kind == "gru":
        params["reset_after"] = True  # torch's GRU applies the reset gate after the recurrent matmul
    bidi = m.bidirectional
    if bidi:
        if uses["state"] and uses["seq"]:
            imp.fail(node, "a bidirectional recurrence whose outputs and final states are both used is not expressible", "bidirectional states")
        params["return_sequences"] = uses["seq"]
        sub = {k: v for k, v in params.items() if k != "kind"}
        op = imp.op("bidirectional", layer={"kind": kind, **sub}, merge="concat")
    else:
        params["return_sequences"] = uses["seq"]
        params["return_state"] = uses["seq"] and uses["state"]
        op = imp.op(kind, **{k: v for k, v in params.items() if k != "kind"})
    outs = imp.b.add(node.target, op, [t], imp.where(node))
    imp.b.layers[-1].value = (node.name, ("rnn", uses["seq"], bidi))
    imp.b.layers[-1].src = (m, node.target)
    if kind == "lstm" or kind == "simple_rnn":
        imp.b.notes.append(
            f"{node.target}: torch's two biases (bias_ih_l0 + bias_hh_l0) are one canonical bias — the same function; "
            "trained, torch moves both (the sum by twice the step)"
        )
    h = m.hidden_size
    return V("rnn", None, (), (), data={"outs": outs, "seq": uses["seq"], "bidi": bidi, "kind": kind, "batch": x.shape[0], "time": x.shape[1], "h": h})


def _rnn_uses(imp, node) -> dict:
    seq = state = False
    for u in node.users:
        if u.op == "call_function" and u.target is operator.getitem and u.args[1] == 0:
            seq = seq or bool(u.users)
        elif u.op == "call_function" and u.target is operator.getitem and u.args[1] == 1:
            state = state or bool(u.users)
        else:
            imp.fail(u, "the result of a torch recurrence must be unpacked (output, h_n = rnn(x))")
    return {"seq": seq, "state": state}


# --------------------------------------------------------------------------- functions

_FN_ACTS = {
    "relu": lambda kw: {"kind": "relu"},
    "relu6": lambda kw: {"kind": "relu6"},
    "sigmoid": lambda kw: {"kind": "sigmoid"},
    "tanh": lambda kw: {"kind": "tanh"},
    "selu": lambda kw: {"kind": "selu"},
    "silu": lambda kw: {"kind": "silu"},
    "hardsigmoid": lambda kw: {"kind": "hard_sigmoid"},
    "gelu": lambda kw: {"kind": "gelu", "approximate": kw.get("approximate", "none") == "tanh"},
    "elu": lambda kw: {"kind": "elu", "alpha": float(kw.get("alpha", 1.0))},
    "leaky_relu": lambda kw: {"kind": "leaky_relu", "alpha": float(kw.get("negative_slope", 0.01))},
}


def _args(node, names: list[str], defaults: dict) -> dict:
    out = dict(defaults)
    for n, a in zip(names, node.args, strict=False):
        out[n] = a
    out.update(node.kwargs)
    return out


def function(imp, node) -> V:
    from torch.fx import Node

    tgt = node.target
    name = tgt if isinstance(tgt, str) else getattr(tgt, "__name__", str(tgt))
    method = node.op == "call_method"
    local = imp.fn_name(node, name.strip("_"))
    if node.op == "call_function" and tgt is operator.getitem:
        return _getitem(imp, node)
    if name in ("size", "dim"):
        src = imp.vals[node.args[0].name]
        if name == "size" and len(node.args) > 1 and node.args[1] == 0:
            return V("size", data="batch")
        if name == "size" and len(node.args) == 1:
            return V("tuple", data=("batch", *src.shape[1:]))
        return V("int", data=src.shape[node.args[1]] if name == "size" else len(src.shape))
    if name in ("contiguous",) and method:
        return imp.vals[node.args[0].name]
    if name in _FN_ACTS or name in ("softmax", "log_softmax"):
        x = imp.tensor(node, node.args[0])
        if name in ("softmax", "log_softmax"):
            kw = _args(node, ["input", "dim"], {"dim": None})
            if kw["dim"] is None:
                imp.fail(node, "softmax without dim (torch's implicit dim) is ambiguous; pass dim", "implicit softmax dim")
            fn = {"kind": name, "axis": _axis(x, int(kw["dim"]))}
        else:
            kw = _args(node, ["input"] + (["negative_slope"] if name == "leaky_relu" else ["alpha"] if name == "elu" else []), {})
            if kw.get("inplace"):
                pass  # in-place is the same function
            fn = _FN_ACTS[name](kw)
        return _act_layer(imp, node, x, fn, local)
    if name in ("add", "iadd", "mul", "imul") or tgt in (operator.add, operator.iadd, operator.mul, operator.imul):
        a, b_ = node.args[0], node.args[1]
        if not isinstance(a, Node) or not isinstance(b_, Node):
            imp.fail(node, f"{'adding' if 'add' in name else 'multiplying by'} a constant is not expressible in a spec", "tensor-constant arithmetic")
        va, vb = imp.tensor(node, a), imp.tensor(node, b_)
        if va.shape != vb.shape:
            imp.fail(node, f"broadcasting {tuple(va.shape)} with {tuple(vb.shape)} is not expressible (add needs equal shapes)", "broadcasting arithmetic")
        tb = imp.realign(node, vb, va.perm)
        kind = "add" if "add" in name else "multiply"
        return imp.add(node, imp.fn_name(node, kind), imp.op(kind), [va.tid, tb], va.perm, va.shape)
    if name == "cat":
        kw = _args(node, ["tensors", "dim"], {"dim": 0})
        items = [imp.vals[t.name] for t in kw["tensors"]]
        if items and all(v.kind == "bi_last" for v in items):
            return _bidi_cat(imp, node, items, int(kw["dim"]))
        vs = [imp.tensor(node, t) for t in kw["tensors"]]
        ref = vs[0]
        ts = [ref.tid] + [imp.realign(node, v, ref.perm) for v in vs[1:]]
        axis = _axis(ref, int(kw["dim"]))
        if axis == 0:
            imp.fail(node, "concatenating along the batch axis is not expressible", "batch concatenation")
        return imp.add(node, local, imp.op("concat", axis=axis), ts, ref.perm, _out_shape(node))
    if name in ("flatten",):
        kw = _args(node, ["input", "start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1})
        x = imp.vals[node.args[0].name]
        if x.kind not in ("t", "pooled"):
            imp.fail(node, "flatten of a non-tensor")
        return _flatten(imp, node, x, int(kw["start_dim"]), int(kw["end_dim"]), local)
    if name == "pad":
        x = imp.tensor(node, node.args[0])
        kw = _args(node, ["input", "pad", "mode", "value"], {"mode": "constant", "value": None})
        if kw["mode"] != "constant" or kw["value"] not in (None, 0, 0.0):
            imp.fail(node, f"padding with mode={kw['mode']!r} value={kw['value']!r} is not expressible (zeros only)", "non-zero padding")
        rank = len(x.shape)
        if x.perm != _cf(rank) or len(kw["pad"]) != 2 * (rank - 2):
            imp.fail(node, "F.pad is expressible only on the spatial axes of a channels-first tensor, before a convolution", "zero padding layers")
        flat = list(kw["pad"])
        pairs = [[flat[2 * i], flat[2 * i + 1]] for i in range(rank - 2)][::-1]  # F.pad lists the last axis first
        return V("padded", x.tid, x.perm, x.shape, data=pairs, extra={"of": x})
    if name in ("view", "reshape"):
        return _view(imp, node, local)
    if name in ("permute", "transpose"):
        x = imp.tensor(node, node.args[0])
        rank = len(x.shape)
        if name == "permute":
            dims = node.args[1:] if len(node.args) > 2 or not isinstance(node.args[1], (tuple, list)) else node.args[1]
            dims = [d % rank for d in dims]
        else:
            a, b_ = node.args[1] % rank, node.args[2] % rank
            dims = list(range(rank))
            dims[a], dims[b_] = dims[b_], dims[a]
        if dims[0] != 0:
            imp.fail(node, "moving the batch axis is not expressible (specs are batch-first)", "batch-axis permutes")
        return V("t", x.tid, tuple(x.perm[d] for d in dims), tuple(x.shape[d] for d in dims))
    if name in ("max_pool2d", "max_pool1d", "avg_pool2d", "avg_pool1d"):
        x = imp.tensor(node, node.args[0])
        kw = _args(node, ["input", "kernel_size", "stride", "padding"], {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "count_include_pad": True})
        kind = ("maxpool" if name.startswith("max") else "avgpool") + name[-2:]
        if kw.get("return_indices"):
            imp.fail(node, "return_indices is not expressible", "pooling indices")
        stride = kw["stride"] if kw["stride"] not in (None, [], ()) else None
        return _pool(imp, node, x, kind, kw["kernel_size"], stride, kw["padding"], kw["dilation"], kw["ceil_mode"], kw["count_include_pad"], local, _out_shape(node))
    if name in ("adaptive_avg_pool2d", "adaptive_avg_pool1d", "adaptive_max_pool2d"):
        x = imp.tensor(node, node.args[0])
        kw = _args(node, ["input", "output_size"], {})
        return _adaptive(imp, node, x, kw["output_size"], "max" if "max" in name else "avg", local)
    if name == "dropout":
        x = imp.tensor(node, node.args[0])
        kw = _args(node, ["input", "p", "training", "inplace"], {"p": 0.5, "training": True})
        if not kw["training"]:
            return x
        return imp.add(node, local, imp.op("dropout", rate=float(kw["p"])), [x.tid], x.perm, x.shape)
    if name == "mean":
        x = imp.tensor(node, node.args[0])
        kw = _args(node, ["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
        rank = len(x.shape)
        dims = kw["dim"]
        dims = sorted(d % rank for d in (dims if isinstance(dims, (list, tuple)) else [dims])) if dims is not None else None
        if dims == list(range(2, rank)) and not kw["keepdim"] and rank in (3, 4):
            t = imp.realign(node, x, _cf(rank))
            return imp.add(node, local, imp.op(f"global_avgpool{rank - 2}d"), [t], (0, 1), _out_shape(node))
        if rank == 3 and dims == [1] and not kw["keepdim"]:
            t = imp.realign(node, x, _ident(3))
            return imp.add(node, local, imp.op("global_avgpool1d"), [t], (0, 1), _out_shape(node))
        imp.fail(node, f"mean over dims {kw['dim']} is not expressible (only a global average over the spatial or time axes)", "mean reductions")
    imp.fail(node, f"{'method' if method else 'function'} {name} has no spec equivalent", f"torch {name}")
    raise AssertionError  # pragma: no cover


def _view(imp, node, local) -> V:
    x = imp.vals[node.args[0].name]
    if x.kind not in ("t", "pooled"):
        imp.fail(node, "view of a non-tensor")
    shape = node.args[1:] if len(node.args) > 2 or not isinstance(node.args[1], (tuple, list)) else list(node.args[1])
    target = []
    from torch.fx import Node

    for s in shape:
        if isinstance(s, Node):
            v = imp.vals[s.name]
            target.append("batch" if v.kind == "size" and v.data == "batch" else v.data if v.kind == "int" else None)
        else:
            target.append(int(s))
    if None in target:
        imp.fail(node, "a shape computed at run time is not expressible", "dynamic shapes")
    out = _out_shape(node)
    if not out or out[0] != x.shape[0]:
        imp.fail(node, f"view to {tuple(shape)} changes the batch axis (not expressible)", "batch-changing reshapes")
    if len(out) == 2:
        return _flatten(imp, node, x, 1, -1, local)
    if x.kind == "pooled":
        x = imp.materialise(node, x)
    rank = len(x.shape)
    t = imp.realign(node, x, _ident(rank))
    return imp.add(node, local, imp.op("reshape", shape=list(out[1:])), [t], _ident(len(out)), out)


def _getitem(imp, node) -> V:
    src = imp.vals[node.args[0].name]
    idx = node.args[1]
    if src.kind == "rnn":
        d = src.data
        outs = d["outs"]
        if idx == 0:
            if not d["seq"]:
                return V("unused")
            return V("t", outs[0], (0, 1, 2), (d["batch"], d["time"], d["h"] * (2 if d["bidi"] else 1)))
        if idx == 1:
            return V("rnn_state", data=d)
    if src.kind == "rnn_state":
        d = src.data
        if d["kind"] == "lstm":  # (h_n, c_n)
            if idx not in (0, 1):
                imp.fail(node, f"index {idx} of an LSTM's (h_n, c_n)")
            return V("state", data={**d, "which": idx})
        return _state_index(imp, node, {**d, "which": 0}, idx)
    if src.kind == "state":
        return _state_index(imp, node, src.data, idx)
    imp.fail(node, f"indexing/slicing ({idx!r}) is not expressible in a spec", "indexing and slicing")
    raise AssertionError  # pragma: no cover


def _state_index(imp, node, d, idx) -> V:
    """h_n[-1] / h_n[0] (one layer, one direction) → the final state; bidirectional h_n[-2], h_n[-1]."""
    outs = d["outs"]
    if d["bidi"]:
        if idx in (-2, 0, -1, 1) and d["which"] == 0:
            return V("bi_last", data={**d, "direction": "forward" if idx in (-2, 0) else "backward"})
        imp.fail(node, "only h_n[-2] and h_n[-1] (joined with torch.cat) of a bidirectional recurrence are expressible", "bidirectional states")
    if idx not in (0, -1):
        imp.fail(node, f"h_n[{idx}] of a one-layer recurrence")
    if d["seq"]:  # return_sequences and return_state: states follow the main output
        tid = outs[1 + d["which"]]
    else:
        if d["which"] == 1:
            imp.fail(node, "the final cell state without the output sequence is not expressible", "LSTM cell state alone")
        tid = outs[0]
    return V("t", tid, (0, 1), (d["batch"], d["h"]))


def _bidi_cat(imp, node, items, dim) -> V:
    dirs = [v.data["direction"] for v in items]
    if dirs != ["forward", "backward"] or dim not in (1, -1) or items[0].data["outs"] != items[1].data["outs"]:
        imp.fail(node, "only torch.cat((h_n[-2], h_n[-1]), dim=1) of one bidirectional recurrence is expressible", "bidirectional states")
    d = items[0].data
    return V("t", d["outs"][0], (0, 1), (d["batch"], 2 * d["h"]))

