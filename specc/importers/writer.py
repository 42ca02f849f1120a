"""An imported model (:class:`~specc.importers.graph.Builder`) → spec text, formatted by
``specc fmt``'s formatter.

* Layer names are the source's (``name=conv1``); a source scope (a torch submodule, a
  nested Keras model) whose layers run together and yield one tensor becomes a ``block``
  used under its own name, so its layers keep their dotted names (``layer1.conv1``).
* Identical numbered submodules applied one after another (``nn.ModuleList`` /
  ``nn.Sequential`` children ``layers.0``, ``layers.1``, …) become ``repeat N { layers() }``
  over one block, which elaborates to the same names ``layers.0.…``, ``layers.1.…``.
* Hyper-parameters whose defaults differ between frameworks are always written out
  (:data:`EXPLICIT`), and activations with every parameter (``leaky_relu(alpha=0.2)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.importers.graph import Builder, Layer
from specc.ir.spec import Spec, render_value
from specc.syntax.format import format_source

__all__ = ["write_spec", "EXPLICIT", "op_text"]

#: fields always written, whatever their value: where frameworks' defaults differ
EXPLICIT: dict[str, tuple[str, ...]] = {
    "dense": ("use_bias",),
    "conv1d": ("padding", "use_bias"),
    "conv2d": ("padding", "use_bias"),
    "depthwise_conv2d": ("padding", "use_bias"),
    "separable_conv2d": ("padding", "use_bias"),
    "conv2d_transpose": ("padding", "use_bias"),
    "maxpool1d": ("padding",),
    "maxpool2d": ("padding",),
    "avgpool1d": ("padding",),
    "avgpool2d": ("padding",),
    "batch_norm": ("momentum", "epsilon"),
    "layer_norm": ("epsilon",),
    "simple_rnn": ("activation", "use_bias"),
    "lstm": ("activation", "recurrent_activation", "use_bias"),
    "gru": ("activation", "recurrent_activation", "reset_after", "use_bias"),
    "concat": ("axis",),
}


def spec_text(spec: Spec) -> str:
    """An activation (or other vocabulary item) with every parameter written."""
    fields = [f for f in type(spec).model_fields if f != "kind"]
    if not fields:
        return spec.kind  # type: ignore[attr-defined]
    return f"{spec.kind}(" + ", ".join(f"{f}={_value(getattr(spec, f))}" for f in fields) + ")"  # type: ignore[attr-defined]


def _value(v) -> str:
    from specc.ir.activations import ACTIVATIONS

    if isinstance(v, Spec) and type(v) in ACTIVATIONS.classes.values():
        return spec_text(v)
    if isinstance(v, Spec):
        return op_text(v)
    if isinstance(v, tuple) and v and all(isinstance(p, tuple) for p in v):
        return "[" + ", ".join("[" + ", ".join(str(i) for i in p) + "]" for p in v) + "]"
    return render_value(v)


def op_text(op, name: str | None = None, trainable: bool = True) -> str:
    params = op.params()
    for f in EXPLICIT.get(op.kind, ()):
        if f not in params:
            params[f] = getattr(op, f)
    if op.kind == "activation":  # written as the activation itself: relu(name=…)
        fn = params.pop("fn")
        text = spec_text(fn)
        extra = ([f"name={name}"] if name else []) + ([] if trainable else ["trainable=false"])
        if not extra:
            return text
        return text[:-1] + ", " + ", ".join(extra) + ")" if text.endswith(")") else f"{text}({', '.join(extra)})"
    parts = []
    positional = True
    for f in type(op).positional:
        if positional and f in params:
            parts.append(_value(params.pop(f)))
        else:
            positional = False
    parts.extend(f"{k}={_value(v)}" for k, v in params.items())
    if name:
        parts.append(f"name={name}")
    if not trainable:
        parts.append("trainable=false")
    return f"{op.kind}({', '.join(parts)})" if parts else op.kind


# --------------------------------------------------------------------------- scopes


@dataclass
class _Scope:
    path: str
    items: list = field(default_factory=list)  # Layer | _Scope | _Repeat


@dataclass
class _Repeat:
    base: str  # path of the numbered scopes' parent
    instances: list[_Scope]


def _rename(layers: list[Layer], outputs: list[str], fn) -> list[str]:
    """Apply ``fn(old_name) -> new_name`` to every layer, updating tensor references."""
    ids: dict[str, str] = {}
    for la in layers:
        new = fn(la.name)
        if new != la.name:
            for i, t in enumerate(la.outputs):
                ids[t] = new if i == 0 else f"{new}:{i}"
            la.name = new
    for la in layers:
        la.inputs = [ids.get(t, t) for t in la.inputs]
    return [ids.get(t, t) for t in outputs]


def _join_at(name: str, prefix: str) -> str:
    """``a.b.c`` with scope ``a.b`` dissolved → ``a.b_c``."""
    if name.startswith(prefix + "."):
        rest = name[len(prefix) + 1 :]
        return f"{prefix}_{rest}" if "." not in rest else f"{prefix}_{rest.split('.', 1)[0]}.{rest.split('.', 1)[1]}"
    return name


def _scope_prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class _Plan:
    def __init__(self, b: Builder):
        self.b = b
        self.layers = b.layers
        self.outputs = list(b.outputs)
        self._normalise()
        b.outputs = self.outputs

    # which tensors each layer reads; model outputs count as a use outside every scope
    def _uses(self) -> dict[str, list[Layer | None]]:
        uses: dict[str, list[Layer | None]] = {}
        for la in self.layers:
            for t in la.inputs:
                uses.setdefault(t, []).append(la)
        for o in self.outputs:
            uses.setdefault(o, []).append(None)
        return uses

    def _bad_scope(self) -> str | None:
        """A scope that cannot be a block: not contiguous, a numeric leaf, or not one output."""
        order: list[str] = []
        closed: set[str] = set()
        current: list[str] = []
        for la in self.layers:
            if la.local.isdigit():
                return la.name.rsplit(".", 1)[0] if "." in la.name else None
            prefixes = _scope_prefixes(la.name)
            for p in current:
                if p not in prefixes:
                    closed.add(p)
            for p in prefixes:
                if p in closed:
                    return p
                if p not in order:
                    order.append(p)
            current = prefixes
        uses = self._uses()
        for p in order:
            members = {la.name for la in self.layers if la.name.startswith(p + ".")}
            produced = [t for la in self.layers if la.name in members for t in la.outputs]
            outside = [t for t in produced if any(u is None or u.name not in members for u in uses.get(t, []))]
            if len(outside) != 1:
                return p
        return None

    def _normalise(self) -> None:
        # a leaf layer named by a number (nn.Sequential children) joins its parent's name
        self.outputs = _rename(self.layers, self.outputs, lambda n: n.rsplit(".", 1)[0] + "_" + n.rsplit(".", 1)[1] if "." in n and n.rsplit(".", 1)[1].isdigit() else ("layer_" + n if n.isdigit() else n))
        for _ in range(10_000):
            bad = self._bad_scope()
            if bad is None:
                break
            self.outputs = _rename(self.layers, self.outputs, lambda n, p=bad: _join_at(n, p))

    def tree(self) -> _Scope:
        root = _Scope("")
        stack = [root]
        for la in self.layers:
            prefixes = _scope_prefixes(la.name)
            while len(stack) - 1 > len(prefixes) or (len(stack) > 1 and stack[-1].path != prefixes[len(stack) - 2]):
                stack.pop()
            while len(stack) - 1 < len(prefixes):
                s = _Scope(prefixes[len(stack) - 1])
                stack[-1].items.append(s)
                stack.append(s)
            stack[-1].items.append(la)
        return root


# --------------------------------------------------------------------------- rendering


def _members(s: _Scope) -> list[Layer]:
    out: list[Layer] = []
    for it in s.items:
        out.extend([it] if isinstance(it, Layer) else _members(it) if isinstance(it, _Scope) else [m for i in it.instances for m in _members(i)])
    return out


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


class _Writer:
    def __init__(self, plan: _Plan):
        from specc.ir.activations import ACTIVATIONS
        from specc.ir.ops import LAYERS

        self.plan = plan
        self.vocab = set(LAYERS.names()) | set(ACTIVATIONS.names())
        self.blocks: dict[str, str] = {}  # name → body text
        self.uses = plan._uses()

    # ---- scope interface
    def io(self, members: list[Layer]) -> tuple[list[str], list[str]]:
        names = {m.name for m in members}
        produced = [t for m in members for t in m.outputs]
        ins: list[str] = []
        for m in members:
            for t in m.inputs:
                if t not in produced and t not in ins:
                    ins.append(t)
        outs = [t for t in produced if any(u is None or u.name not in names for u in self.uses.get(t, []))]
        return ins, outs

    def group_repeats(self, s: _Scope) -> None:
        """Numbered child scopes P.0 … P.k−1 filling scope P, identical and chained → a repeat."""
        for it in s.items:
            if isinstance(it, _Scope):
                self.group_repeats(it)
        new = []
        for it in s.items:
            if isinstance(it, _Scope) and it.items and all(isinstance(c, _Scope) and _local(c.path) == str(i) for i, c in enumerate(it.items)) and len(it.items) >= 2:
                rep = self.as_repeat(it)
                if rep is not None:
                    new.append(rep)
                    continue
            new.append(it)
        s.items = new

    def as_repeat(self, s: _Scope) -> _Repeat | None:
        insts: list[_Scope] = s.items
        bodies = []
        prev_out = None
        for inst in insts:
            ins, outs = self.io(_members(inst))
            if len(ins) != 1 or len(outs) != 1 or (prev_out is not None and ins != [prev_out]):
                return None
            prev_out = outs[0]
            bodies.append(self.block_body(inst, ins))
        if any(b != bodies[0] for b in bodies) or _local(s.path) in self.vocab:
            return None
        return _Repeat(s.path, insts)

    # ---- text
    def tensor_names(self) -> _Names:
        return _Names(self.vocab | set(self.blocks))

    def block_body(self, s: _Scope, ins: list[str]) -> str:
        names = self.tensor_names()
        lines = []
        for t in ins:
            lines.append(f"input {names.bind(t, 'x')}")
        _, outs = self.io(_members(s))
        lines += self.body(s.items, names, outs[0], ins[0] if len(ins) == 1 else None)
        last = s.items[-1]
        last_out = self.item_outputs(last)
        if outs != last_out[:1] or len(last_out) > 1:
            lines.append(f"output {names.get(outs[0])}")
        return "\n".join(lines)

    def define_block(self, name: str, body: str) -> str | None:
        """Define ``block name`` (or reuse it); None if the name is taken by another body."""
        if name in self.vocab:
            return None
        have = self.blocks.get(name)
        if have is None:
            self.blocks[name] = body
            return name
        return name if have == body else None

    def item_outputs(self, it) -> list[str]:
        if isinstance(it, Layer):
            return it.outputs
        members = _members(it) if isinstance(it, _Scope) else _members(it.instances[-1])
        return self.io(members)[1]

    def item_inputs(self, it) -> list[str]:
        if isinstance(it, Layer):
            return list(it.inputs)
        members = _members(it) if isinstance(it, _Scope) else _members(it.instances[0])
        return self.io(members)[0]

    def body(self, items: list, names: _Names, final: str | None, current: str | None) -> list[str]:
        lines: list[str] = []
        for j, it in enumerate(items):
            ins = self.item_inputs(it)
            outs = self.item_outputs(it)
            if isinstance(it, Layer):
                call = op_text(it.op, _local(it.name), it.trainable)
            elif isinstance(it, _Repeat):
                inst = it.instances[0]
                block = _local(it.base)
                got = self.define_block(block, self.block_body(inst, self.io(_members(inst))[0]))
                if got is None:  # pragma: no cover - as_repeat checked the name
                    raise AssertionError(block)
                call = f"repeat {len(it.instances)} {{ {block}() }}"
            else:
                body = self.block_body(it, ins)
                local = _local(it.path)
                # an identical submodule used again (under another name) reuses its block
                name = next((k for k, v in self.blocks.items() if v == body), None) or self.define_block(local, body)
                i = 1
                while name is None:
                    name = self.define_block(f"{local}_{i}", body)
                    i += 1
                call = f"{name}()" if name == local else f"{name}(name={local})"
            head = ""
            if ins != [current] or current is None:
                refs = [names.get(t) for t in ins]
                head = (refs[0] if len(refs) == 1 else "(" + ", ".join(refs) + ")") + " -> " if refs else ""
            # bind the outputs when anything but the next statement's implicit input reads them
            nxt = items[j + 1] if j + 1 < len(items) else None
            implicit_next = nxt is not None and len(outs) == 1 and self.item_inputs(nxt) == outs
            inside = _members_of(nxt) if implicit_next else []
            later = [u for o in outs for u in self.uses.get(o, [])]
            if nxt is None and outs == [final]:
                needs = False  # the body's result: its default output
            else:
                needs = len(outs) > 1 or not implicit_next or any(u is None or u not in inside for u in later)
            bind = ""
            if needs:
                bind = ", ".join(names.bind(o, _local(o.split(":")[0]) + (f"_{o.split(':')[1]}" if ":" in o else "")) for o in outs) + " = "
            lines.append(bind + head + call)
            current = outs[0] if len(outs) == 1 else None
        return lines


def _members_of(it) -> list[Layer]:
    if it is None:
        return []
    if isinstance(it, Layer):
        return [it]
    return _members(it) if isinstance(it, _Scope) else [m for i in it.instances for m in _members(i)]


class _Names:
    """Tensor names of one body: identifiers, not vocabulary, each bound once."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)
        self.map: dict[str, str] = {}

    def bind(self, tensor: str, hint: str) -> str:
        if tensor in self.map:
            return self.map[tensor]
        base = hint if hint not in self.taken else f"{hint}_out"
        out, i = base, 1
        while out in self.taken:
            out = f"{base}_{i}"
            i += 1
        self.taken.add(out)
        self.map[tensor] = out
        return out

    def get(self, tensor: str) -> str:
        return self.map[tensor]


def write_spec(b: Builder, header: list[str] | None = None) -> str:
    """The spec text of an imported model, in ``specc fmt``'s canonical form."""
    for _ in range(10_000):
        plan = _Plan(b)
        w = _Writer(plan)
        root = plan.tree()
        w.group_repeats(root)
        numbered = _numbered_scope(root)
        if numbered is None:
            break
        # numbered submodules that are not a repeat: P.3.x → P_3.x
        parent = numbered.rsplit(".", 1)[0]
        b.outputs = _rename(b.layers, b.outputs, lambda n, p=parent: _join_at(n, p))
    names = w.tensor_names()
    lines = []
    for i in b.inputs:
        dims = ", ".join("?" if d is None else str(d) for d in i.dims)
        names.bind(i.name, i.name)
        lines.append(f"input {i.name}: {i.dtype}[{dims}]" + (f"  # {i.note}" if i.note else ""))
    lines.append("")
    body = w.body(root.items, names, plan.outputs[0] if len(plan.outputs) == 1 else None, b.inputs[0].name if len(b.inputs) == 1 else None)
    lines += body
    last = root.items[-1] if root.items else None
    if last is None or w.item_outputs(last) != plan.outputs:
        lines.append("output " + ", ".join(names.get(o) for o in plan.outputs))
    out = [f"# {h}" for h in (header or [])]
    for name, text in w.blocks.items():
        out.append(f"block {name}() {{")
        out.extend("  " + ln for ln in text.split("\n"))
        out.append("}")
        out.append("")
    out.append(f"model {b.name} {{")
    out.extend(("  " + ln) if ln else "" for ln in lines)
    out.append("}")
    return format_source("\n".join(out) + "\n")


def _numbered_scope(s: _Scope) -> str | None:
    for it in s.items:
        if isinstance(it, _Scope):
            if _local(it.path).isdigit():
                return it.path
            got = _numbered_scope(it)
            if got:
                return got
        elif isinstance(it, _Repeat):
            for inst in it.instances:
                got = _numbered_scope(inst)
                if got:
                    return got
    return None


def layer_order(b: Builder) -> list[Layer]:
    """The builder's layers after the writer's renaming (the elaborated model's order)."""
    _Plan(b)
    return b.layers
