"""The base of every IR vocabulary item, and how a spec's call becomes one.

Layers, activations, initialisers, regularisers, losses, optimizers, schedules and
metrics are all :class:`Spec` subclasses: frozen pydantic models whose fields are the
item's parameters (type, range, default, one-line doc).  Each belongs to a
:class:`Family`, which knows every registered item by name and turns a call written in a
spec (``leaky_relu(0.2)``, ``adam(lr=1e-3)``) into the validated model, with located,
readable errors.

Conversion is type directed: a field annotated with a family (``Activation``,
``Initializer``, …) converts its argument through that family, so
``dense(10, activation=leaky_relu(0.2), init=he_normal)`` just works.
"""

from __future__ import annotations

import importlib
import math
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from specc.errors import Diagnostic, Span, SpecError, did_you_mean
from specc.ir.wording import bound_message, keras_name_hint, lower_first

__all__ = [
    "Spec",
    "Family",
    "Symbol",
    "ArgValue",
    "CallValue",
    "family_of",
    "describe_type",
    "render_value",
]


#: the end of the description of a field specc sets itself and a spec never writes (a
#: layer reading the padding ids of ``embedding(mask_zero=true)``); editors do not offer it
SET_BY_SPECC = "(set by specc, not written)"


class Symbol(str):
    """A bare name used as a value in a spec: ``relu``, ``same``, ``he_normal``."""

    __slots__ = ()


@dataclass
class ArgValue:
    """An evaluated argument: a Python value (int, float, bool, str, Symbol, list,
    CallValue or an already built Spec) and where it was written."""

    value: Any
    span: Span | None = None
    #: where ``name=value`` was written, name included (for "no parameter 'name'")
    key_span: Span | None = None

    @property
    def whole_span(self) -> Span | None:
        return self.key_span or self.span


@dataclass
class CallValue:
    """A call written as a value, not yet interpreted: ``leaky_relu(0.2)``."""

    name: str
    args: list[tuple[str | None, ArgValue]] = field(default_factory=list)
    span: Span | None = None
    name_span: Span | None = None


class Spec(BaseModel):
    """Base of all vocabulary items.  Subclasses declare ``kind: Literal["name"]``."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False, defer_build=True)

    #: parameters that may be given positionally, in order
    positional: ClassVar[tuple[str, ...]] = ()
    #: other names this item answers to (e.g. xavier_uniform for glorot_uniform)
    aliases: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return self.kind  # type: ignore[attr-defined]

    # Frozen and made of immutable values: a copy is the object itself (pydantic deep-copies
    # a field's default on every construction; dense(init=glorot_uniform) need not copy it).
    def __copy__(self):
        return self

    def __deepcopy__(self, memo=None):
        return self

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False):
        """A copy with ``update`` applied — a new object whenever something changes.
        pydantic's own ``model_copy`` applies ``update`` to ``self.__copy__()``, which is
        ``self`` here: it would change the original in place (``without_dropout`` switched
        dropout off in the caller's model; a planted ε compounded on every build)."""
        if not update:
            return self
        copied = BaseModel.__copy__(self)  # pydantic's real shallow copy
        copied.__dict__.update(update)
        copied.__pydantic_fields_set__.update(update.keys())
        return copied

    def params(self) -> dict[str, Any]:
        """Parameters that differ from their defaults (what one would write)."""
        out = {}
        info = class_info(type(self))
        for fname in info.fields:
            value = getattr(self, fname)
            default = info.defaults.get(fname, _REQUIRED)
            if default is _REQUIRED:
                out[fname] = value
                continue
            # an int default normalised to a tuple (stride=1 → (1, 1)) is still the default
            if value == default or (isinstance(value, tuple) and value and all(v == default for v in value)):
                continue
            out[fname] = value
        return out

    def describe(self) -> str:
        """Render as spec text: ``dense(10, activation=softmax)``."""
        params = self.params()
        if not params:
            return self.kind  # type: ignore[attr-defined]
        parts = []
        positional = True
        for fname in type(self).positional:  # leading positional parameters, in order
            if positional and fname in params:
                parts.append(render_value(params.pop(fname)))
            else:
                positional = False
        parts.extend(f"{fname}={render_value(value)}" for fname, value in params.items())
        return f"{self.kind}({', '.join(parts)})"  # type: ignore[attr-defined]


_REQUIRED = object()


@dataclass(frozen=True)
class ClassInfo:
    """What conversion needs to know about a Spec class, computed once per class (pydantic's
    ``model_fields`` is rebuilt and its defaults deep-copied on every access)."""

    kind: str
    fields: tuple[str, ...]  # without "kind"
    defaults: dict[str, Any]  # fields that have one
    families: dict[str, tuple[Family | None, bool]]


_CLASS_INFO: dict[type, ClassInfo] = {}


def class_info(cls: type[Spec]) -> ClassInfo:
    info = _CLASS_INFO.get(cls)
    if info is None:
        mf = cls.model_fields
        fields = tuple(f for f in mf if f != "kind")
        defaults = {f: mf[f].get_default(call_default_factory=True) for f in fields if not mf[f].is_required()}
        info = _CLASS_INFO[cls] = ClassInfo(mf["kind"].default, fields, defaults, {f: _field_families(cls, f) for f in fields})
    return info


def render_value(value: Any) -> str:
    if isinstance(value, Spec):
        return value.describe()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if value is None:
        return "none"
    return str(value)


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class _FamilyMarker:
    family: Family


class Family:
    """A named collection of Spec classes: ``Family("activation")``.

    A family may be given a manifest (:meth:`set_manifest`): which module of a package
    defines which member.  Its members are then imported on first lookup, and only
    :attr:`classes` and :attr:`union` (which need every member) import them all."""

    def __init__(self, name: str, noun: str | None = None):
        self.name = name
        self.noun = noun or name
        self._classes: dict[str, type[Spec]] = {}
        self.aliases: dict[str, str] = {}
        self._union = None
        self._package: str | None = None  # while members are still to be imported on demand
        self._manifest: dict[str, str] = {}  # kind → module
        self._manifest_aliases: dict[str, str] = {}  # alias → kind

    def set_manifest(self, package: str, manifest: dict[str, str], aliases: dict[str, str]) -> None:
        """Members are defined in modules of ``package``: ``manifest`` maps each kind to its
        module, ``aliases`` each alias to its kind; a module is imported when one of its
        members is first looked up."""
        self._package, self._manifest, self._manifest_aliases = package, dict(manifest), dict(aliases)

    def load_all(self) -> None:
        """Import every module of the manifest (once)."""
        package, self._package = self._package, None
        if package is not None:
            for module in sorted(set(self._manifest.values())):
                importlib.import_module(f"{package}.{module}")

    @property
    def classes(self) -> dict[str, type[Spec]]:
        """Every member by kind (imports them all)."""
        self.load_all()
        return self._classes

    def register(self, cls: type[Spec]) -> type[Spec]:
        kind = typing.get_args(cls.model_fields["kind"].annotation)[0]
        if kind in self._classes:
            raise RuntimeError(f"{self.name} '{kind}' registered twice")
        self._classes[kind] = cls
        for alias in cls.aliases:
            self.aliases[alias] = kind
        self._union = None
        return cls

    def kinds(self) -> list[str]:
        """Every member's kind, sorted (imports nothing)."""
        if self._package is not None:
            return sorted(self._manifest)
        return sorted(self._classes)

    def names(self) -> list[str]:
        if self._package is not None:
            return sorted(self._manifest) + sorted(self._manifest_aliases)
        return sorted(self._classes) + sorted(self.aliases)

    def lookup(self, name: str) -> type[Spec] | None:
        cls = self._classes.get(self.aliases.get(name, name))
        if cls is None and self._package is not None:
            module = self._manifest.get(self._manifest_aliases.get(name, name))
            if module is not None:
                importlib.import_module(f"{self._package}.{module}")
                cls = self._classes.get(self.aliases.get(name, name))
        return cls

    def __contains__(self, name: str) -> bool:
        if self._package is not None and (name in self._manifest or name in self._manifest_aliases):
            return True
        return self.lookup(name) is not None

    @property
    def union(self):
        """The pydantic type accepting any member (discriminated on ``kind``)."""
        if self._union is None:
            classes = self.classes
            members = tuple(classes[k] for k in sorted(classes))
            inner = members[0] if len(members) == 1 else Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007
            self._union = inner
        return self._union

    def field_type(self):
        """The annotation for a field taking a member of this family.

        Call it once every member is registered (at the end of the family's module):
        it validates and round-trips JSON through the discriminated union, and marks the
        field so spec text converts through this family."""
        return Annotated[self.union, _FamilyMarker(self)]

    # ---- conversion from spec text
    def make(self, value: ArgValue, what: str | None = None) -> Spec:
        """Build a member from a symbol (``relu``), a call (``leaky_relu(0.2)``) or a Spec."""
        v = value.value
        if isinstance(v, Spec):
            if self.lookup(getattr(v, "kind", "")) is type(v):
                return v
            raise SpecError.single(value.span, f"expected {_article(self.noun)} here, got {v.kind}")
        if isinstance(v, Symbol) or (isinstance(v, str) and not isinstance(v, Symbol)):
            return self.build(str(v), [], value.span, value.span, what)
        if isinstance(v, CallValue):
            return self.build(v.name, v.args, v.span, v.name_span, what)
        raise SpecError.single(
            value.span,
            f"expected {_article(self.noun)}{' for ' + what if what else ''}, got {render_value(v)}",
            expected=f"one of: {', '.join(self.kinds())}",
        )

    def build(
        self,
        name: str,
        args: list[tuple[str | None, ArgValue]],
        span: Span | None,
        name_span: Span | None = None,
        what: str | None = None,
    ) -> Spec:
        cls = self.lookup(name)
        if cls is None:
            raise SpecError.single(
                name_span or span,
                f"unknown {self.noun} '{name}'{' for ' + what if what else ''}",
                expected=f"one of: {', '.join(self.kinds())}",
                hint=did_you_mean(name, self.names()),
            )
        return build_spec(cls, args, span, self.noun)


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def family_of(annotation) -> Family | None:
    """The family a field's annotation converts through, if any."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, _FamilyMarker):
            return meta.family
    return None


def _field_families(cls: type[Spec], fname: str) -> tuple[Family | None, bool]:
    """(family, is_sequence) for a field; None when the field takes plain values."""
    finfo = cls.model_fields[fname]
    ann = finfo.annotation
    fam = None
    for meta in finfo.metadata:
        if isinstance(meta, _FamilyMarker):
            fam = meta.family
    if fam is not None:
        return fam, False
    for arg in _flatten_union(ann):
        fam = family_of(arg)
        if fam is not None:
            return fam, False
        if typing.get_origin(arg) in (tuple, list):
            inner = typing.get_args(arg)
            if inner and family_of(inner[0]) is not None:
                return family_of(inner[0]), True
    return None, False


def _flatten_union(ann) -> list:
    origin = typing.get_origin(ann)
    if origin in (Union, types.UnionType):
        out = []
        for a in typing.get_args(ann):
            out.extend(_flatten_union(a))
        return out
    return [ann]


def _plain(value: Any) -> Any:
    """Symbols become strings, CallValues stay (pydantic will reject them), lists → tuples
    (values are validated strictly: a list literal is a tuple field's only spelling)."""
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def build_spec(
    cls: type[Spec], args: list[tuple[str | None, ArgValue]], span: Span | None, noun: str = "layer"
) -> Spec:
    """Validate ``args`` (positional and keyword) against ``cls``'s fields."""
    info = class_info(cls)
    kind = info.kind
    fields = info.fields
    diags: list[Diagnostic] = []
    given: dict[str, ArgValue] = {}
    positional = list(cls.positional)
    for pos_index, (key, av) in enumerate(args):
        if key is None:
            if not positional:
                n = len(cls.positional)
                diags.append(
                    Diagnostic(
                        av.span,
                        f"{kind} takes {n or 'no'} positional argument{'s' if n != 1 else ''}"
                        + (f" ({', '.join(cls.positional)})" if n else ""),
                        hint=_by_name_hint(cls, av, given)
                        or (
                            f"pass it by name, {kind}(…, parameter=value); parameters are {', '.join(fields)}"
                            if fields
                            else f"{kind} takes no parameters"
                        ),
                    )
                )
                continue
            key = positional.pop(0)
        elif key in cls.positional and key in positional:
            positional.remove(key)
        if key not in info.families:
            diags.append(
                Diagnostic(
                    av.whole_span,
                    f"{kind} has no parameter '{key}'",
                    expected=f"one of: {', '.join(fields)}" if fields else f"{kind} takes no parameters",
                    hint=keras_name_hint(key, fields) or did_you_mean(key, fields),
                )
            )
            continue
        if key in given:
            diags.append(Diagnostic(av.whole_span, f"{kind}: parameter '{key}' is given twice"))
            continue
        given[key] = av
    values: dict[str, Any] = {}
    for key, av in given.items():
        fam, is_seq = info.families[key]
        try:
            if fam is not None and is_seq:
                items = av.value if isinstance(av.value, list) else [av.value]
                spans = getattr(av.value, "spans", None) or [av.span] * len(items)  # a list literal's items
                values[key] = tuple(
                    fam.make(i if isinstance(i, ArgValue) else ArgValue(i, sp), what=f"{kind}.{key}")
                    for i, sp in zip(items, spans, strict=True)
                )
            elif fam is not None and not (av.value is None or (isinstance(av.value, Symbol) and av.value == "none")):
                values[key] = fam.make(av, what=f"{kind}.{key}")
            else:
                values[key] = _plain(av.value)
        except SpecError as e:
            diags.extend(e.diagnostics)
    for key in fields:
        if key not in values and key not in given and key not in info.defaults:
            diags.append(
                Diagnostic(
                    span,
                    f"{kind} needs parameter '{key}'",
                    expected=_field_expectation(cls, key),
                    hint=_usage(cls),
                )
            )
    if diags:
        raise SpecError(diags)
    try:
        # strict: no silent coercions of what was written (true → 1, "3" → 3, 3.5 // ... 3.0 → 3, 1 → true)
        return cls.model_validate(values, strict=True)
    except SpecError as e:  # from a validator that builds a nested item (bidirectional's layer)
        for d in e.diagnostics:
            d.span = d.span or span
        raise
    except ValidationError as e:
        raise SpecError(_validation_diagnostics(cls, e, given, span)) from None


def _by_name_hint(cls: type[Spec], av: ArgValue, given: dict[str, ArgValue]) -> str | None:
    """`dense(128, relu)`: an extra positional argument that is a value of one of the
    item's other parameters (an activation, an initialiser, a padding mode) → its name."""
    v = av.value
    name = v.name if isinstance(v, CallValue) else str(v) if isinstance(v, Symbol) else None
    if name is None:
        return None
    kind = cls.model_fields["kind"].default
    shown = f"{name}(…)" if isinstance(v, CallValue) else name
    for fname in cls.model_fields:
        if fname == "kind" or fname in given or fname in cls.positional:
            continue
        fam, _ = _field_families(cls, fname)
        if fam is not None and name in fam:
            return f"pass it by name: {kind}(…, {fname}={shown})"
        for arg in _flatten_union(cls.model_fields[fname].annotation):
            if typing.get_origin(arg) is Literal and name in typing.get_args(arg):
                return f"pass it by name: {kind}(…, {fname}={shown})"
    return None


def _usage(cls: type[Spec]) -> str:
    kind = cls.model_fields["kind"].default
    fields = [f for f in cls.model_fields if f != "kind"]
    # the order one writes them in: positional parameters, other required ones, the rest
    order = [*(f for f in cls.positional if f in fields), *(f for f in fields if f not in cls.positional)]
    order.sort(key=lambda f: (f not in cls.positional, not cls.model_fields[f].is_required()))
    parts = []
    for f in order:
        info = cls.model_fields[f]
        parts.append(f if info.is_required() else f"{f}={render_value(info.get_default(call_default_factory=True))}")
    return f"usage: {kind}({', '.join(parts)})"


def _field_expectation(cls: type[Spec], fname: str) -> str:
    info = cls.model_fields[fname]
    fam = next((m.family for m in info.metadata if isinstance(m, _FamilyMarker)), None)
    if fam is not None:  # pydantic keeps a family's marker in the metadata, not the annotation
        text = f"{fname}: {_article(fam.noun)} (one of: {', '.join(fam.kinds())})"
    else:
        text = f"{fname}: {describe_type(info.annotation)}"
    bounds = []
    for meta in info.metadata:
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if getattr(meta, attr, None) is not None:
                bounds.append(f"{sym} {getattr(meta, attr)}")
    if bounds:
        text += " " + " and ".join(bounds)
    if info.description:
        text += f" — {info.description}"
    return text


def describe_type(ann) -> str:
    """Human words for a field type: 'an integer', 'one of: valid, same', …"""
    fam = family_of(ann)
    if fam is not None:
        return _article(fam.noun)
    origin = typing.get_origin(ann)
    if origin is Annotated:
        return describe_type(typing.get_args(ann)[0])
    if origin in (Union, types.UnionType):
        parts = [describe_type(a) for a in typing.get_args(ann) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is Literal:
        return "one of: " + ", ".join(render_value(a) for a in typing.get_args(ann))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(ann) if a is not Ellipsis]
        inner = describe_type(args[0]) if args else "values"
        if origin is tuple and Ellipsis not in typing.get_args(ann) and len(args) > 1:
            return f"a list of {len(args)} values ([{', '.join(describe_type(a) for a in args)}])"
        return f"a list of {inner.removeprefix('an ').removeprefix('a ')}s"
    if isinstance(ann, type) and issubclass(ann, Spec):  # one class of a union: its name in specs
        return ann.model_fields["kind"].default
    return {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a name",
        type(None): "none",
    }.get(ann, getattr(ann, "__name__", str(ann)))


def _validation_diagnostics(
    cls: type[Spec], err: ValidationError, given: dict[str, ArgValue], span: Span | None
) -> list[Diagnostic]:
    kind = cls.model_fields["kind"].default
    out: list[Diagnostic] = []
    seen: set[str] = set()
    for e in err.errors(include_url=False):
        loc = e.get("loc") or ()
        fname = str(loc[0]) if loc else None
        if fname in seen:
            continue
        av = given.get(fname) if fname else None
        where = av.span if av is not None else span
        got = av.value if av is not None else None
        if fname and fname in cls.model_fields:
            seen.add(fname)
            if isinstance(got, CallValue):
                shown = f"{got.name}(…)"
            elif isinstance(got, str) and not isinstance(got, Symbol):
                shown = '"' + got + '"'
            else:
                shown = render_value(got)
            msg = bound_message(e) or e.get("msg", "invalid value")
            if e.get("type") == "value_error":
                msg = msg.removeprefix("Value error, ")
            hint = None
            if isinstance(got, Symbol):
                message = f"{kind}.{fname}: '{got}' is not a valid value"
            else:
                message = f"{kind}.{fname}: {lower_first(msg)} (got {shown})"
                if e.get("type") == "int_type" and isinstance(got, float) and got.is_integer():
                    hint = "write an integer: '/' always gives a fraction, '//' divides integers"
            out.append(Diagnostic(where, message, expected=_field_expectation(cls, fname), hint=hint))
        else:
            msg = e.get("msg", "invalid parameters").removeprefix("Value error, ")
            out.append(Diagnostic(span, f"{kind}: {lower_first(msg)}", hint=_usage(cls)))
    return out


# --------------------------------------------------------------------------- shared field helpers


def positive_int_tuple(n: int) -> Callable[[Any], tuple[int, ...]]:
    """Validator: a positive int or a list of ``n`` positive ints → a tuple of ``n`` ints."""

    def conv(v: Any) -> tuple[int, ...]:
        if isinstance(v, bool):
            raise ValueError("expected an integer, not true/false")
        if isinstance(v, int):
            v = (v,) * n
        if not (isinstance(v, (list, tuple)) and len(v) == n and all(isinstance(i, int) and not isinstance(i, bool) for i in v)):
            raise ValueError(f"expected an integer or a list of {n} integers")
        if any(i <= 0 for i in v):
            raise ValueError("must be positive")
        return tuple(v)

    return conv


def iter_specs(value: Any) -> Iterable[Spec]:
    """All Spec objects inside a value (for walking nested layers)."""
    if isinstance(value, Spec):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_specs(v)
