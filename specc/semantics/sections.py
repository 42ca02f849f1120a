"""The model's ``train`` and ``verify`` sections, and the checks of the whole model made
after its layers (every layer used by an output; a loss that fits the outputs): a mixin of
the elaborator."""

from __future__ import annotations

from specc.errors import SpecError
from specc.ir.graph import TrainConfig, VerifyConfig
from specc.ir.spec import ArgValue, build_spec
from specc.ir.types import fmt_shape
from specc.semantics.context import BodyScope, Tensors
from specc.semantics.evaluate import evaluate
from specc.semantics.hints import metric_problems
from specc.syntax import ast

__all__ = ["SectionsMixin"]


class SectionsMixin:
    # ------------------------------------------------------------------ sections
    def run_section(self, stmt: ast.Section, scope: BodyScope, in_model: bool) -> None:
        if not in_model:
            self.error(stmt.span, f"a {stmt.kind} section belongs in the model, not in a block or repeat")
            return
        cls = TrainConfig if stmt.kind == "train" else VerifyConfig
        if (self.train if stmt.kind == "train" else self.verify) is not None:
            self.error(stmt.span, f"the model has two {stmt.kind} sections")
            return
        args: list[tuple[str | None, ArgValue]] = []
        keys: set[str] = set()
        for s in stmt.settings:
            if s.key in keys:
                self.error(s.key_span, f"{stmt.kind}: '{s.key}' is set twice")
                continue
            keys.add(s.key)
            try:
                args.append((s.key, ArgValue(evaluate(s.value, scope.values), s.value.span, s.key_span)))
            except SpecError as e:
                self.absorb(e)
        try:
            cfg = build_spec(cls, args, stmt.span, noun="section")
        except SpecError as e:
            cb = next((st for st in stmt.settings if st.key == "callbacks"), None)
            for d in e.diagnostics:
                if cb is not None and ("cannot monitor" in d.message or "callbacks:" in d.message):
                    d.span = cb.value.span  # a callback's monitor, or a callback given twice
                    d.hint = "monitor loss or one of the spec's metrics, prefixed val_ for the validation data" if "cannot monitor" in d.message else None
                    continue
                d.message = d.message.replace(f"{stmt.kind} has no parameter", f"{stmt.kind} has no setting").replace(f"{stmt.kind} needs parameter", f"{stmt.kind} needs setting")
                if d.hint and d.hint.startswith("usage:"):
                    d.hint = f"e.g. {stmt.kind} {{ loss categorical_crossentropy; optimizer adam(lr=1e-3) }}" if stmt.kind == "train" else None
            self.absorb(e)
            return
        if stmt.kind == "train":
            self.train = cfg  # type: ignore[assignment]
            loss = next((st for st in stmt.settings if st.key == "loss"), None)
            self.train_span = loss.value.span if loss is not None else stmt.span
            metrics = next((st for st in stmt.settings if st.key == "metrics"), None)
            self.metrics_span = metrics.value.span if metrics is not None else stmt.span
            self.diags.extend(metric_problems(cfg, self.metrics_span))
        else:
            self.verify = cfg  # type: ignore[assignment]

    def check_unused(self, outputs: Tensors) -> None:
        """A layer no output depends on is a mistake (and Keras would silently drop it, so
        the backends would disagree on the model's weights): report the last layer of each
        unused branch."""
        producer = {t: n for n in self.nodes for t in n.outputs}
        used: set[str] = set()
        stack = [producer[t] for t in outputs if t in producer]
        while stack:
            n = stack.pop()
            if n.name in used:
                continue
            used.add(n.name)
            stack.extend(producer[t] for t in n.inputs if t in producer)
        feeds_unused = {producer[t].name for n in self.nodes if n.name not in used for t in n.inputs if t in producer}
        for n in self.nodes:
            if n.name not in used and n.name not in feeds_unused:
                self.error(
                    n.span,
                    f"the result of '{n.name}' is not used by any output",
                    hint="use it, list it in the outputs (output a, b), or remove it",
                )

    def check_training(self, m: ast.ModelDef, outputs: Tensors) -> None:
        if self.train is None:
            return
        loss = self.train.loss
        span = getattr(self, "train_span", m.name_span)
        if loss.target == "class_index" and any(mt.kind == "mae" for mt in self.train.metrics):
            self.error(
                getattr(self, "metrics_span", span),
                f"metric mae compares outputs with targets of the same shape, but {loss.kind}'s targets are class indices",
                hint="use accuracy / precision / recall / f1, or categorical_crossentropy with one-hot targets",
            )
        producers = {t: n for n in self.nodes for t in n.outputs}
        for o in outputs:
            t = self.types[o]
            producer = producers.get(o)
            act = producer.op.activation_spec() if producer is not None else None
            if getattr(loss, "from_logits", False) and act is not None and act.kind in ("softmax", "sigmoid"):
                self.error(
                    span,
                    f"{loss.kind}(from_logits=true), but the output '{o}' is already a probability (it ends in {act.kind})",
                    hint=f"either remove from_logits=true (the loss then uses the logits before {act.kind}, exactly), "
                    f"or remove the {act.kind} activation",
                )
                continue
            if not t.is_float:
                self.error(span, f"the loss needs a float output, but '{o}' is {t.dtype}")
                continue
            if loss.target in ("class_index", "one_hot") and (t.rank < 1 or not isinstance(t.shape[-1], int)):
                self.error(span, f"{loss.kind} needs an output with a known number of classes on its last axis, got {fmt_shape(t.shape, batch=True)}")
