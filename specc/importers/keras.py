"""Keras 3 models → an import :class:`~specc.importers.graph.Builder`.

Sequential and functional models, nested models (their layers keep the nested model's
name as a scope: ``encoder.dense``), and custom ``Layer`` subclasses, whose ``call`` is
traced on symbolic tensors into the built-in layers and ``keras.ops`` it applies
(:mod:`specc.importers.keras_trace`; scoped by the custom layer's name).  Keras is channels-last
and its weight layouts are the canonical ones, so weights are read through the Keras
backend's own variable paths (``specc/backends/keras/ops``) after the spec is elaborated.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from specc.importers.graph import Builder, ImportFailure
from specc.importers.keras_trace import POSITIONS_OP, is_custom_layer, trace_call

__all__ = ["import_keras", "keras_weights"]


def _where(layer) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__})"


_ACTS = {
    "linear": {"kind": "linear"},
    "relu": {"kind": "relu"},
    "relu6": {"kind": "relu6"},
    "sigmoid": {"kind": "sigmoid"},
    "tanh": {"kind": "tanh"},
    "softmax": {"kind": "softmax", "axis": -1},
    "log_softmax": {"kind": "log_softmax", "axis": -1},
    "leaky_relu": {"kind": "leaky_relu", "alpha": 0.2},  # the Keras string's slope
    "elu": {"kind": "elu", "alpha": 1.0},
    "selu": {"kind": "selu"},
    "gelu": {"kind": "gelu", "approximate": False},  # keras.activations.gelu's default is exact
    "silu": {"kind": "silu"},
    "swish": {"kind": "silu"},
    "softplus": {"kind": "softplus"},
    "hard_sigmoid": {"kind": "hard_sigmoid"},
}


def activation(value, layer) -> dict:
    """A Keras activation (name, config or function) → the IR's activation."""
    import keras

    name = value
    if callable(value) and not isinstance(value, str):
        name = keras.activations.serialize(value)
    if isinstance(name, dict):
        name = name.get("config", {}).get("name") if name.get("class_name") == "function" else name.get("class_name")
    if name is None:
        name = "linear"
    if name not in _ACTS:
        raise ImportFailure(f"activation '{name}' has no spec equivalent", _where(layer), f"activation {name}")
    return dict(_ACTS[name])


def _regularizer(cfg, layer, what: str):
    if cfg is None:
        return None
    cls = cfg.get("class_name") if isinstance(cfg, dict) else type(cfg).__name__
    c = cfg.get("config", {}) if isinstance(cfg, dict) else cfg.get_config()
    if cls in ("L2", "l2"):
        return {"kind": "l2", "l2": float(c["l2"])}
    if cls in ("L1", "l1"):
        return {"kind": "l1", "l1": float(c["l1"])}
    if cls in ("L1L2", "l1_l2"):
        return {"kind": "l1_l2", "l1": float(c.get("l1", 0.0)), "l2": float(c.get("l2", 0.0))}
    raise ImportFailure(f"{what} regularizer {cls} has no spec equivalent", _where(layer), f"regularizer {cls}")


def _refuse(cfg: dict, layer, checks: dict[str, Any]) -> None:
    """Options the language cannot express must have their neutral value."""
    for key, neutral in checks.items():
        if key in cfg and cfg[key] not in (neutral if isinstance(neutral, tuple) else (neutral,)):
            raise ImportFailure(f"option {key}={cfg[key]!r} is not expressible in a spec", _where(layer), f"{type(layer).__name__}({key}=…)")


_COMMON = {"kernel_constraint": None, "bias_constraint": None, "activity_regularizer": None, "lora_rank": None}


def _channels_last(cfg, layer):
    if cfg.get("data_format", "channels_last") not in ("channels_last", None):
        raise ImportFailure(
            "data_format='channels_first' layers are not expressible (specs are channels-last)",
            _where(layer),
            "channels-first Keras layers",
        )


def _regs(cfg, layer, fields: dict[str, str]) -> dict:
    out = {}
    for kcfg, ir in fields.items():
        r = _regularizer(cfg.get(kcfg), layer, kcfg.replace("_regularizer", ""))
        if r is not None:
            out[ir] = r
    return out


def _rnn(layer) -> dict:
    cfg = layer.get_config()
    kind = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[type(layer).__name__]
    _refuse(cfg, layer, {"stateful": False, "unroll": (False, True), "recurrent_constraint": None, **_COMMON})
    p: dict = {
        "kind": kind,
        "units": cfg["units"],
        "activation": activation(cfg.get("activation", "tanh"), layer),
        "use_bias": cfg.get("use_bias", True),
        "return_sequences": cfg.get("return_sequences", False),
        "return_state": cfg.get("return_state", False),
        "go_backwards": cfg.get("go_backwards", False),
        "dropout": float(cfg.get("dropout", 0.0)),
        "recurrent_dropout": float(cfg.get("recurrent_dropout", 0.0)),
        **_regs(cfg, layer, {"kernel_regularizer": "reg", "recurrent_regularizer": "recurrent_reg", "bias_regularizer": "bias_reg"}),
    }
    if kind in ("lstm", "gru"):
        p["recurrent_activation"] = activation(cfg.get("recurrent_activation", "sigmoid"), layer)
    if kind == "lstm":
        p["unit_forget_bias"] = cfg.get("unit_forget_bias", True)
    if kind == "gru":
        p["reset_after"] = cfg.get("reset_after", True)
    return p


def _pool(cfg, layer, kind: str, n: int) -> dict:
    _channels_last(cfg, layer)
    pool = cfg["pool_size"]
    strides = cfg.get("strides") or pool
    pool = list(pool) if isinstance(pool, (list, tuple)) else [pool] * n
    strides = list(strides) if isinstance(strides, (list, tuple)) else [strides] * n
    p = {"kind": kind, "pool": pool, "padding": cfg.get("padding", "valid")}
    if strides != pool:
        p["stride"] = strides
    return p


def _query_rank(layer) -> int | None:
    nodes = getattr(layer, "_inbound_nodes", None) or []
    return len(nodes[0].input_tensors[0].shape) if nodes and nodes[0].input_tensors else None


def layer_params(layer, n_inputs: int) -> dict | None:
    """The IR op (as a dict for pydantic) of one built-in Keras layer; None = identity."""
    from keras import layers as L

    cls = type(layer).__name__
    cfg = layer.get_config()
    if cls == "Dense":
        _refuse(cfg, layer, _COMMON)
        return {
            "kind": "dense",
            "units": cfg["units"],
            "activation": activation(cfg.get("activation"), layer),
            "use_bias": cfg.get("use_bias", True),
            **_regs(cfg, layer, {"kernel_regularizer": "reg", "bias_regularizer": "bias_reg"}),
        }
    if cls in ("Conv1D", "Conv2D"):
        _refuse(cfg, layer, _COMMON)
        _channels_last(cfg, layer)
        return {
            "kind": cls.lower(),
            "filters": cfg["filters"],
            "kernel": list(cfg["kernel_size"]),
            "stride": list(cfg["strides"]),
            "padding": cfg["padding"],
            "dilation": list(cfg["dilation_rate"]),
            "groups": cfg.get("groups", 1),
            "activation": activation(cfg.get("activation"), layer),
            "use_bias": cfg.get("use_bias", True),
            **_regs(cfg, layer, {"kernel_regularizer": "reg", "bias_regularizer": "bias_reg"}),
        }
    if cls == "DepthwiseConv2D":
        _refuse(cfg, layer, {**_COMMON, "depthwise_constraint": None})
        _channels_last(cfg, layer)
        return {
            "kind": "depthwise_conv2d",
            "kernel": list(cfg["kernel_size"]),
            "depth_multiplier": cfg.get("depth_multiplier", 1),
            "stride": list(cfg["strides"]),
            "padding": cfg["padding"],
            "dilation": list(cfg["dilation_rate"]),
            "activation": activation(cfg.get("activation"), layer),
            "use_bias": cfg.get("use_bias", True),
        }
    if cls in ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"):
        n = int(cls[-2])
        return _pool(cfg, layer, ("maxpool" if cls.startswith("Max") else "avgpool") + f"{n}d", n)
    if cls in ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
        _channels_last(cfg, layer)
        _refuse(cfg, layer, {"keepdims": False})
        n = int(cls[-2])
        return {"kind": ("global_avgpool" if "Average" in cls else "global_maxpool") + f"{n}d"}
    if cls == "Flatten":
        if cfg.get("data_format") == "channels_first":
            return {"kind": "_flatten_cf"}
        return {"kind": "flatten"}
    if cls == "Reshape":
        return {"kind": "reshape", "shape": list(cfg["target_shape"])}
    if cls == "Permute":
        return {"kind": "permute", "dims": list(cfg["dims"])}
    if cls == "Dropout":
        _refuse(cfg, layer, {"noise_shape": None})
        return {"kind": "dropout", "rate": float(cfg["rate"])}
    if cls == "BatchNormalization":
        _refuse(cfg, layer, {"axis": (-1,), "renorm": False, "synchronized": False, "beta_constraint": None, "gamma_constraint": None})
        return {
            "kind": "batch_norm",
            "momentum": float(cfg["momentum"]),
            "epsilon": float(cfg["epsilon"]),
            "center": cfg.get("center", True),
            "scale": cfg.get("scale", True),
            **_regs(cfg, layer, {"gamma_regularizer": "gamma_reg", "beta_regularizer": "beta_reg"}),
        }
    if cls == "LayerNormalization":
        ax = cfg.get("axis", -1)
        if ax not in (-1, [-1]):
            raise ImportFailure(f"layer normalisation over axis {ax} is not expressible (specs normalise the last axis)", _where(layer), "layer_norm over other axes")
        _refuse(cfg, layer, {"rms_scaling": False, "beta_constraint": None, "gamma_constraint": None})
        return {"kind": "layer_norm", "epsilon": float(cfg["epsilon"]), "center": cfg.get("center", True), "scale": cfg.get("scale", True)}
    if cls == "Embedding":
        _refuse(cfg, layer, {"mask_zero": False, "embeddings_constraint": None, "activity_regularizer": None, "lora_rank": None})
        return {"kind": "embedding", "vocab": cfg["input_dim"], "dim": cfg["output_dim"], **_regs(cfg, layer, {"embeddings_regularizer": "reg"})}
    if cls in ("LSTM", "GRU", "SimpleRNN"):
        return _rnn(layer)
    if cls == "Bidirectional":
        inner = layer.forward_layer
        if type(inner).__name__ not in ("LSTM", "GRU", "SimpleRNN"):
            raise ImportFailure(f"bidirectional wraps {type(inner).__name__}; specs wrap simple_rnn, lstm or gru", _where(layer), "bidirectional of other layers")
        back = layer.backward_layer.get_config()
        fwd = inner.get_config()
        for k in ("units", "activation", "recurrent_activation", "use_bias", "reset_after", "return_sequences", "dropout", "recurrent_dropout"):
            if fwd.get(k) != back.get(k):
                raise ImportFailure(f"the two directions differ in {k}", _where(layer), "bidirectional with different directions")
        merge = cfg.get("merge_mode", "concat")
        if merge is None:
            raise ImportFailure("merge_mode=None (two separate outputs) is not expressible", _where(layer), "bidirectional merge none")
        sub = _rnn(inner)
        sub.pop("go_backwards", None)
        return {"kind": "bidirectional", "layer": sub, "merge": merge}
    if cls == "Activation":
        return {"kind": "activation", "fn": activation(cfg["activation"], layer)}
    if cls == "ReLU":
        mv, slope, th = cfg.get("max_value"), cfg.get("negative_slope", 0.0), cfg.get("threshold", 0.0)
        if slope == 0 and th == 0 and mv is None:
            return {"kind": "activation", "fn": {"kind": "relu"}}
        if slope == 0 and th == 0 and mv == 6:
            return {"kind": "activation", "fn": {"kind": "relu6"}}
        raise ImportFailure("ReLU with max_value/negative_slope/threshold other than relu or relu6 is not expressible", _where(layer), "parametrised ReLU")
    if cls == "LeakyReLU":
        return {"kind": "activation", "fn": {"kind": "leaky_relu", "alpha": float(cfg["negative_slope"])}}
    if cls == "ELU":
        return {"kind": "activation", "fn": {"kind": "elu", "alpha": float(cfg.get("alpha", 1.0))}}
    if cls == "Softmax":
        ax = cfg.get("axis", -1)
        return {"kind": "activation", "fn": {"kind": "softmax", "axis": ax if isinstance(ax, int) else ax[0]}}
    if cls in ("Add", "Multiply"):
        return {"kind": cls.lower()}
    if cls == "Concatenate":
        return {"kind": "concat", "axis": cfg.get("axis", -1)}
    if cls == "MultiHeadAttention":
        if cfg.get("attention_axes") is not None and tuple(cfg["attention_axes"]) == (1,) and _query_rank(layer) == 3:
            cfg = {**cfg, "attention_axes": None}  # what a built layer reports for its default: attention over time
        _refuse(cfg, layer, {"attention_axes": (None,), **_COMMON})
        out = cfg.get("output_shape")
        if isinstance(out, (list, tuple)):
            if len(out) != 1:
                raise ImportFailure(f"output_shape {out} is not expressible (one output size)", _where(layer), "attention output_shape")
            out = out[0]
        p = {
            "kind": "multi_head_attention",
            "heads": cfg["num_heads"],
            "key_dim": cfg["key_dim"],
            "value_dim": cfg.get("value_dim") or cfg["key_dim"],
            "dropout": float(cfg.get("dropout", 0.0)),
            "use_bias": cfg.get("use_bias", True),
        }
        if out is not None:
            p["output_dim"] = out
        return p
    if cls in ("ZeroPadding1D", "ZeroPadding2D"):
        raise ImportFailure("zero padding as a layer of its own is not expressible yet", _where(layer), cls)
    if cls == "InputLayer":
        return None
    if isinstance(layer, L.Layer) and not type(layer).__module__.startswith("keras."):
        raise ImportFailure(
            f"custom layer class {type(layer).__module__}.{cls}: specc imports Keras' built-in layers and does not read Python call() methods",
            _where(layer),
            f"custom layer {cls}",
        )
    raise ImportFailure(f"Keras layer {cls} has no spec equivalent", _where(layer), cls)


# --------------------------------------------------------------------------- graph walk


def _dtype(t) -> str:
    d = str(getattr(t, "dtype", "float32"))
    return {"float32": "float32", "float64": "float64", "float16": "float16", "bfloat16": "bfloat16", "int32": "int32", "int64": "int64", "bool": "bool"}.get(d, d)


class _KerasImporter:
    def __init__(self, model):
        self.b = Builder(model.name, "keras")
        self.sources: dict[str, Any] = {}  # builder layer name → keras layer (weights)
        #: layers' outputs are tensors of the source model (verify --against probes them);
        #: not inside a traced custom layer, whose last layer gets the custom layer's output
        self.probes = True

    def run(self, model) -> Builder:
        inputs = list(getattr(model, "inputs", None) or [])
        if not inputs:
            raise ImportFailure(
                "the model has no input shape: build it with keras.Input(...) (or call it once) before importing",
                f"model '{model.name}'",
            )
        ids = []
        for t in inputs:
            shape = tuple(t.shape)[1:]
            name = getattr(t, "name", None) or "input"
            hist = getattr(t, "_keras_history", None)
            if hist is not None and type(hist.operation).__name__ == "InputLayer":
                name = hist.operation.name
            ids.append(self.b.add_input(name, _dtype(t), shape))
        outs = self.graph(model, ids, "")
        self.b.outputs = outs
        self._ids_as_integers()
        return self.b

    def _ids_as_integers(self) -> None:
        """A float input read only by embeddings (and positions) holds ids: Keras' Embedding
        casts them to int32 (truncating), so the spec declares the input int32 — the same
        function on the integer values ids have.  keras.io's transformer classifier has
        ``layers.Input(shape=(maxlen,))`` (float32) before its embeddings."""
        for i, decl in enumerate(self.b.inputs):
            if not decl.dtype.startswith(("float", "bfloat")):
                continue
            readers = [la for la in self.b.layers if decl.name in la.inputs]
            if readers and any(la.op.kind == "embedding" for la in readers) and all(la.op.kind in ("embedding", "positions") for la in readers):
                self.b.inputs[i] = dataclasses.replace(decl, dtype="int32", note=f"{decl.dtype} in the source, read only as ids by embeddings (Keras casts them to int32)")

    def graph(self, model, in_ids: list[str], prefix: str) -> list[str]:
        import keras
        from keras import Sequential

        if isinstance(model, Sequential):
            cur = list(in_ids)
            for layer in model.layers:
                before = len(self.b.layers)
                if is_custom_layer(layer):
                    nodes = getattr(layer, "_inbound_nodes", [])
                    if len(nodes) != 1:
                        raise ImportFailure("a custom layer in a Sequential model must be built (called once) to be traced", _where(layer), f"custom layer {type(layer).__name__}")
                    cur = self.custom(layer, nodes[0], cur, prefix)
                    continue
                cur = self.apply(layer, cur, prefix, None)
                if len(self.b.layers) > before and self.probes and not isinstance(layer, keras.Model):
                    try:
                        out = layer.output
                        self.b.layers[-1].value = list(out) if isinstance(out, (list, tuple)) else [out]
                    except (AttributeError, ValueError):
                        pass
            return cur
        if not hasattr(model, "_inbound_nodes") or not getattr(model, "outputs", None):
            raise ImportFailure("a subclassed keras.Model (its call() is Python) cannot be imported; build it as a functional or Sequential model", _where(model), "subclassed Keras models")
        return self.walk(model.inputs, in_ids, model.outputs, prefix)

    def walk(self, inputs, in_ids: list[str], outputs, prefix: str) -> list[str]:
        """The ids of ``outputs``, a functional graph's symbolic tensors computed from
        ``inputs`` (whose ids are ``in_ids``), each layer added on the way."""
        import keras

        probes = self.probes

        known: dict[int, str] = {id(t): i for t, i in zip(inputs, in_ids, strict=True)}

        def value(t) -> str:
            if id(t) in known:
                return known[id(t)]
            op, ni, ti = t._keras_history
            node = op._inbound_nodes[ni]
            ins = [value(x) for x in node.input_tensors]
            before = len(self.b.layers)
            if is_custom_layer(op):
                outs = self.custom(op, node, ins, prefix)
            else:
                outs = self.apply(op, ins, prefix, node.arguments, node)
            if len(self.b.layers) > before and (probes or is_custom_layer(op) or isinstance(op, keras.Model)):
                # a nested model's or custom layer's last layer yields its call's outputs
                self.b.layers[-1].value = list(node.outputs) if probes else None
            for o, oid in zip(node.outputs, outs, strict=False):
                known[id(o)] = oid
            if id(t) not in known:
                raise ImportFailure(f"output {ti} of this layer is not expressible", _where(op))
            return known[id(t)]

        return [value(t) for t in outputs]

    def custom(self, layer, node, ins: list[str], prefix: str) -> list[str]:
        """A custom layer: its call() traced (:mod:`specc.importers.keras_trace`), its
        layers under its name as a scope."""
        fresh, outs = trace_call(layer, node, _where(layer))
        probes, self.probes = self.probes, False  # the traced tensors are not the source model's
        try:
            return self.walk(fresh, ins, outs, f"{prefix}{layer.name}.")
        finally:
            self.probes = probes

    def apply(self, layer, ins: list[str], prefix: str, args, node=None) -> list[str]:
        import keras

        from specc.ir.ops import LAYERS

        if isinstance(layer, keras.Model):
            probes, self.probes = self.probes, False  # its layers' tensors are not the outer model's
            try:
                return self.graph(layer, ins, f"{prefix}{layer.name}.")
            finally:
                self.probes = probes
        if args is not None:
            extra = {k: v for k, v in args.kwargs.items() if v is not None and k not in ("training",)}
            if extra:
                raise ImportFailure(f"call arguments {sorted(extra)} are not expressible", _where(layer), "layer call options")
        if type(layer).__name__ == POSITIONS_OP:
            return self.b.add(f"{prefix}positions", LAYERS.classes["positions"](), ins, f"ops.arange over the time axis of {prefix.rstrip('.') or 'the model'}")
        if type(layer).__module__.startswith("keras.src.ops") and type(layer).__name__ in _TENSOR_OPS and node is not None:
            return self.tensor_op(layer, ins, prefix, node)
        if type(layer).__module__.startswith("keras.src.ops"):
            raise ImportFailure(
                f"the tensor operation {type(layer).__name__} (keras.ops on symbolic tensors) is not expressible in a spec",
                f"operation '{layer.name}'",
                f"tensor operation {type(layer).__name__}",
            )
        p = layer_params(layer, len(ins))
        if p is None:
            return ins
        if p["kind"] == "_flatten_cf":  # Keras' channels-first flatten: channels-first order
            rank = len(layer.input.shape) - 1 if hasattr(layer, "input") else 3
            if rank < 2:
                p = {"kind": "flatten"}
            else:
                dims = [rank, *range(1, rank)]
                (t,) = self.b.add(f"{prefix}{layer.name}_to_channels_first", LAYERS.classes["permute"](dims=dims), ins, _where(layer) + " (channels-first order)")
                ins = [t]
                p = {"kind": "flatten"}
        try:
            op = LAYERS.classes[p.pop("kind")].model_validate(p)
        except Exception as e:  # noqa: BLE001 - pydantic's message names the parameter
            raise ImportFailure(f"parameters not expressible: {e}", _where(layer)) from None
        outs = self.b.add(f"{prefix}{layer.name}", op, ins, _where(layer), trainable=bool(layer.trainable))
        self.b.layers[-1].src = layer
        return outs


    def tensor_op(self, op, ins: list[str], prefix: str, node) -> list[str]:
        """``a + b`` / ``a * b`` of two symbolic tensors of one shape (keras.ops, or the
        operators on KerasTensors) → the add / multiply layer."""
        from specc.ir.ops import LAYERS

        kind = _TENSOR_OPS[type(op).__name__]
        shapes = [tuple(t.shape)[1:] for t in node.input_tensors]
        if len(ins) != 2 or len(node.arguments.args) != 2:
            raise ImportFailure(f"{type(op).__name__} with a constant operand is not expressible in a spec", f"operation '{op.name}'", "tensor-constant arithmetic")
        if shapes[0] != shapes[1]:
            raise ImportFailure(f"{type(op).__name__} broadcasting {shapes[0]} with {shapes[1]} is not expressible by import (the shapes must be equal)", f"operation '{op.name}'", "broadcasting arithmetic")
        return self.b.add(f"{prefix}{op.name}", LAYERS.classes[kind](), ins, f"operation '{op.name}' ({type(op).__name__})")


#: keras.ops operations on two tensors → the IR's merge layer
_TENSOR_OPS = {"Add": "add", "Multiply": "multiply"}


def import_keras(model) -> tuple[Builder, dict[str, Any]]:
    """(builder, {builder layer name: keras layer}) for a Keras model."""
    imp = _KerasImporter(model)
    return imp.run(model), imp.sources


def _relative(layer, path: str) -> str:
    """A variable path relative to its layer, with a bidirectional's inner names as specc's
    Keras backend names them (``forward_<kind>/…``)."""
    parts = path.split("/")
    rel = "/".join(parts[parts.index(layer.name) + 1 :]) if layer.name in parts[:-1] else parts[-1]
    if type(layer).__name__ == "Bidirectional":
        kind = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[type(layer.forward_layer).__name__]
        head, _, rest = rel.partition("/")
        if head == layer.forward_layer.name:
            rel = f"forward_{kind}/{rest}"
        elif head == layer.backward_layer.name:
            rel = f"backward_{kind}/{rest}"
    return rel


def keras_weights(model, node, layer) -> tuple[dict, dict]:
    """Canonical weights of IR ``node`` from the Keras ``layer``, and their source paths."""
    import numpy as np

    from specc.backends.keras.plan import KERAS_OPS, KNodeInfo, _load_ops

    _load_ops()
    names = [w.name for w in model.node_weights(node)]
    if not names:
        return {}, {}
    vals = {}
    paths = {}
    for v in layer.weights:
        rel = _relative(layer, v.path)
        vals[rel] = np.asarray(v.numpy(), dtype=np.float64)
        paths[rel] = v.path
    kop = KERAS_OPS[node.op.kind]
    info = KNodeInfo(node, model.input_types(node))
    try:
        got = kop.from_keras(info, names, vals)
    except KeyError as e:
        raise ImportFailure(f"weight {e} not found (has {sorted(vals)})", _where(layer)) from None
    origins = {n: paths.get(kop.var_path(info, n), "?") for n in names}
    return got, origins
