"""Shared layers (`ea = a -> encoder(16, name=enc)`, `eb = b -> enc`): one layer, one set of
weights, applied to several tensors.  The IR stores the weights once; torch calls one
module, Keras one layer object (in memory and in generated code); gradients accumulate
from every use; misuse is a located error; planted bugs (two weight sets) are caught."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch
from gradients import grads_both, torch_grads
from emit_support import _import
from support import build_both, forward_both, max_rel, random_inputs, random_targets, random_weights, train_both

import specc
from specc.backends.keras.emit import emit_keras
from specc.backends.torch.emit import emit_torch
from specc.verification import verify

TRAIN = "  train {\n    loss mse\n    optimizer sgd(lr=0.05, momentum=0.9)\n  }\n"

# a shared block (dense layers, an inner tied layer) and a tied dense at the top
DENSE = (
    "block encoder(dim) {\n  input x: float32[6]\n  h = x -> dense(dim, activation=tanh, name=inner)\n  h -> inner_1_\n}\n"
    "model m {\n  input a: float32[6]\n  input b: float32[6]\n  ea = a -> encoder(6, name=enc)\n  eb = b -> enc\n"
    "  p = ea * eb + ea\n  t = p -> dense(6, activation=tanh, name=tied)\n  u = t -> tied\n  u -> dense(2)\n" + TRAIN + "}\n"
).replace("h -> inner_1_", "h -> inner")
# a convolutional encoder: channels-first values and a flatten into a shared dense in torch
IMAGES = (
    "block encoder() {\n  input x: float32[6, 6, 2]\n  x -> conv2d(3, 3, padding=same, activation=relu) -> maxpool2d(2)\n"
    "  flatten\n  dense(4)\n}\n"
    "model m {\n  input a: float32[6, 6, 2]\n  input b: float32[6, 6, 2]\n  ea = a -> encoder(name=enc)\n  eb = b -> enc\n"
    "  d = ea - eb\n  (d, ea) -> concat -> dense(2)\n" + TRAIN + "}\n"
)
# the DENSE model with every use its own layer: its gradients are the shared one's parts
UNTIED = (
    "model m {\n  input a: float32[6]\n  input b: float32[6]\n"
    "  ea = a -> dense(6, activation=tanh, name=e1) -> dense(6, activation=tanh, name=e2)\n"
    "  eb = b -> dense(6, activation=tanh, name=e3) -> dense(6, activation=tanh, name=e4)\n"
    "  p = ea * eb + ea\n  t = p -> dense(6, activation=tanh, name=t1)\n  u = t -> dense(6, activation=tanh, name=t2)\n  u -> dense(2, name=out)\n" + TRAIN + "}\n"
)


# --------------------------------------------------------------------------- the IR


def test_weights_are_stored_once():
    m = specc.loads(DENSE)
    assert m.weight_names() == ["enc.inner.kernel", "enc.inner.bias", "tied.kernel", "tied.bias", "dense.kernel", "dense.bias"]
    shares = {n.name: n.shares for n in m.nodes if n.shares}
    assert shares == {"enc.inner_1": "enc.inner", "enc_1.inner": "enc.inner", "enc_1.inner_1": "enc.inner", "tied_1": "tied"}
    assert [s.shares for s in m.scopes] == [None, "enc"]
    assert m.count_params() == (2 * (36 + 6) + 14, 0)
    assert specc.ir.graph.Model.from_json(m.to_json()) == m
    from specc.summary import summary_text

    assert "dense(6, activation=tanh) (shares tied)" in summary_text(m)


def test_model_refuses_a_share_of_another_layer():
    m = specc.loads(DENSE)
    nodes = list(m.nodes)
    i = next(i for i, n in enumerate(nodes) if n.name == "tied_1")
    nodes[i] = nodes[i].model_copy(update={"shares": "dense"})  # a later node
    with pytest.raises(ValueError, match="not an earlier node"):
        specc.ir.graph.Model(**{**m.model_dump(exclude={"nodes"}), "nodes": [n.model_dump() for n in nodes]})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "body, message, where",
    [
        ("  h = a -> dense(4, name=d)\n  k = h -> d\n", "'d' is a shared layer made for input float32[batch, 6], but here it gets float32[batch, 4]", (3, 12)),
        ("  h = a -> dense(4, name=d)\n  k = c -> d\n", "'d' is a shared layer made for input float32[batch, 6], but here it gets float64[batch, 6]", (3, 12)),
        ("  h = a -> dense(4, name=d)\n  k = a -> d(8)\n", "'d' is a shared layer: a later use takes no arguments", (3, 14)),
        ("  h = a -> blk(name=e)\n  k = b -> e\n", "'e' is a shared layer made for input float32[batch, 6], but here it gets float32[batch, 5]", (3, 12)),
        ("  h = a -> dense(4, name=d)\n  k = a -> blk2\n", "'d' is a shared layer named in the model; it is applied again only in the body where it is named", (3, 3)),
        ("  h = a -> dense(4, name=d)\n  k = a -> repeat 2 { d }\n", "'d' is a shared layer named in the model; it is applied again only in the body where it is named", (3, 23)),
    ],
)
def test_misuse_is_located(body, message, where):
    text = (
        "block blk() {\n  input x: float32[6]\n  x -> dense(3)\n}\nblock blk2() {\n  input x\n  x -> d\n}\n"
        "model m {\n  input a: float32[6]\n  input b: float32[5]\n  input c: float64[6]\n" + body + "  output h, k\n}\n"
    )
    with pytest.raises(specc.SpecError) as e:
        specc.loads(text)
    found = {d.message: d for d in e.value.diagnostics}
    assert message in found, str(e.value)
    d = found[message]
    line, col = where
    if "blk2" in body:
        line, col = 7, 8  # inside the block
    else:
        line += 11
    assert (d.span.line, d.span.col) == (line, col), str(e.value)
    assert d.hint or d.notes


@pytest.mark.parametrize(
    "body, message, where, hint",
    [
        ("  k = a -> d\n  h = a -> dense(4, name=d)\n", "'d' is applied before the layer it names is made", (3, 12), "move this use below line 4"),
        ("  h = a -> dense(4, name=enc)\n  k = a -> enx\n", "unknown layer 'enx'", (4, 12), "did you mean 'enc'?"),
        ("  h = a -> dense(4, name=dd)\n  k = a -> d\n", "unknown layer 'd'", (4, 12), "did you mean 'dd'?"),
        ("  h = a -> dense(4, name=d)\n  k = a -> h\n", "'h' is a tensor; a tensor can only start a chain", (4, 12), "to apply that layer again write its name: -> d"),
    ],
)
def test_names_that_teach(body, message, where, hint):
    """Use before the first use, a typo of a shared name, a tensor written where its layer
    is meant, and a name that would mean both a tensor and a layer."""
    text = "model m {\n  input a: float32[6]\n" + body + "  output h, k\n}\n"
    with pytest.raises(specc.SpecError) as e:
        specc.loads(text)
    d = e.value.diagnostics[0]
    assert d.message == message, str(e.value)
    assert (d.span.line, d.span.col) == where, str(e.value)
    assert hint in (d.hint or ""), str(e.value)


def test_a_name_for_a_tensor_and_a_layer():
    """At the start of a chain a name is the tensor, after `->` the layer (specc import
    writes `bn2 = batch_norm(…, name=bn2)`)."""
    m = specc.loads("model m {\n  input a: float32[6]\n  h = a -> dense(6, name=h)\n  k = h -> h\n  output k\n}\n")
    assert [(n.name, n.inputs, n.shares) for n in m.nodes] == [("h", ("a",), None), ("h_1", ("h",), "h")]


def test_a_failed_first_use_does_not_cascade():
    text = "model m {\n  input a: float32[6]\n  h = a -> dense(4, name=d, activation=nope)\n  k = h -> d\n  output k\n}\n"
    with pytest.raises(specc.SpecError) as e:
        specc.loads(text)
    assert len(e.value.diagnostics) == 1 and "nope" in e.value.diagnostics[0].message


# --------------------------------------------------------------------------- backends


@pytest.fixture(scope="module", params=["dense", "images"])
def case(request):
    text = DENSE if request.param == "dense" else IMAGES
    w = random_weights(text, 3)
    model, tb, km, _ = build_both(text, weights=w)
    rng = np.random.default_rng(4)
    return text, model, tb, km, w, random_inputs(model, 3, rng), random_targets(model, 3, rng)


def test_one_module_one_layer_object(case):
    _, model, tb, km, w, _, _ = case
    mods = [f for f, *_ in tb.model._program if isinstance(f, torch.nn.Module)]
    assert len({id(m) for m in mods}) < len(mods)  # a module called at more than one step
    n_params = sum(p.numel() for p in tb.model.parameters())
    assert n_params == sum(v.size for v in w.values())
    assert sum(int(np.prod(v.shape)) for v in km.weights) == n_params
    owners = {n.shares for n in model.nodes if n.shares}
    for name in owners:
        assert len(km.get_layer(name)._inbound_nodes) >= 2  # one Keras layer, called again


def test_backends_agree(case):
    _, _, tb, km, w, xs, ys = case
    yt, yk = forward_both(tb, km, xs)
    assert np.abs(yk).max() > 0.1 and max_rel(yt, yk) < 1e-12
    lt, lk, gt, gk = grads_both(tb, km, xs, ys)
    assert abs(lt - lk) <= 1e-12 * abs(lk) and set(gt) == set(gk) == set(w)
    for name in w:
        assert np.abs(gk[name]).max() > 1e-6 and max_rel(gt[name], gk[name]) < 1e-10, name
    tb.set_weights(w)
    km.specc.set_weights(km, w)
    km.run_eagerly = True
    assert max(train_both(tb, km, xs, ys, steps=2)) < 1e-10


@pytest.mark.parametrize("name", ["dense", "images"])
def test_float32(name):
    text = DENSE if name == "dense" else IMAGES
    model, tb, km, _ = build_both(text, dtype="float32", weights=random_weights(text, 5))
    yt, yk = forward_both(tb, km, random_inputs(model, 3, np.random.default_rng(6), dtype="float32"))
    assert yt.dtype == yk.dtype == np.float32
    assert max_rel(yt, yk) < 1e-5


def test_gradients_accumulate_from_every_use():
    """The shared weights' gradient is the sum of the gradients each use would get from a
    layer of its own with the same values."""
    w = random_weights(DENSE, 7)
    model = specc.loads(DENSE)
    rng = np.random.default_rng(8)
    xs, ys = random_inputs(model, 4, rng), random_targets(model, 4, rng)
    _, g = torch_grads(specc.build(model, "torch", dtype="float64", weights=w), xs, ys)
    untied = {
        **{f"{k}.{p}": w[f"enc.inner.{p}"] for k in ("e1", "e2", "e3", "e4") for p in ("kernel", "bias")},
        **{f"{k}.{p}": w[f"tied.{p}"] for k in ("t1", "t2") for p in ("kernel", "bias")},
        **{f"out.{p}": w[f"dense.{p}"] for p in ("kernel", "bias")},
    }
    _, gu = torch_grads(specc.build(specc.loads(UNTIED), "torch", dtype="float64", weights=untied), xs, ys)
    for p in ("kernel", "bias"):
        parts = sum(gu[f"{k}.{p}"] for k in ("e1", "e2", "e3", "e4"))
        assert max_rel(g[f"enc.inner.{p}"], parts) < 1e-12
        assert max_rel(g[f"enc.inner.{p}"], gu[f"e1.{p}"]) > 1e-2  # not one use's alone
        assert max_rel(g[f"tied.{p}"], gu[f"t1.{p}"] + gu[f"t2.{p}"]) < 1e-12


# --------------------------------------------------------------------------- planted bugs


def test_planted_two_torch_weight_sets(monkeypatch):
    """torch: a later use gets a module of its own holding a copy of the weights (the
    planner ignores sharing): the outputs agree, the gradients do not accumulate."""
    from specc.backends.torch import bundle, plan

    real_paths, real_sd = plan._attr_paths, bundle.to_state_dict

    def separate(model):
        return real_paths(model.model_copy(update={"nodes": tuple(n.model_copy(update={"shares": None}) for n in model.nodes)}))

    def copied(p, weights):
        sd = real_sd(p, weights)
        for n in p.model.nodes:
            if n.shares is not None:
                src, dst = ".".join(p.nodes[n.shares].attr) + ".", ".".join(p.nodes[n.name].attr) + "."
                sd.update({dst + k[len(src) :]: v for k, v in list(sd.items()) if k.startswith(src)})
        return sd

    monkeypatch.setattr(plan, "_attr_paths", separate)
    monkeypatch.setattr(bundle, "to_state_dict", copied)
    report = verify(specc.loads(DENSE), dtype="float64", steps=1, processes=False)
    assert not report.ok and report.first_failure.phase == "gradient", report.render_text()
    assert all(r.ok for r in report.rows if r.phase == "forward")


def test_planted_two_keras_layers(monkeypatch):
    """keras: a later use makes a layer of its own (its weights are not the shared ones)."""
    from specc.backends.keras import plan as kplan

    real = kplan.KCtx.layer

    def own_layer(self, construct, ins, **kw):
        outs = real(self, construct, ins, **kw)
        node, step = self.node, self.plan.steps[-1]
        if node.shares is not None:  # the step names a layer of its own
            step.name = node.name + step.name[len(node.shares) :]
            self.info.layers[-1] = step.name
        return outs

    monkeypatch.setattr(kplan.KCtx, "layer", own_layer)
    report = verify(specc.loads(DENSE), dtype="float64", steps=1, processes=False)
    assert not report.ok and report.first_failure.phase == "forward", report.render_text()


# --------------------------------------------------------------------------- generated code


@pytest.mark.parametrize("name", ["dense", "images"])
def test_generated_code_shares(tmp_path, name):
    text = DENSE if name == "dense" else IMAGES
    model = specc.loads(text)
    src_t, src_k = emit_torch(model), emit_keras(model)
    assert re.search(r"= self\.enc\(a\)$", src_t, re.M) and re.search(r"= self\.enc\(b\)$", src_t, re.M)
    assert src_t.count("self.enc = ") == 1
    assert re.search(r"^    enc = make_encoder\(prefix='enc', dtype=dtype\)$", src_k, re.M)
    assert re.search(r"= enc\(a\)$", src_k, re.M) and re.search(r"= enc\(b\)$", src_k, re.M)
    if name == "dense":
        assert src_t.count("self.tied = ") == 1 and len(re.findall(r"self\.tied\(", src_t)) == 2  # called twice (the call may sit inside the next function call)
        assert len(re.findall(r"= tied_layer\(", src_k)) == 2
    w = random_weights(text, 2)
    built = specc.build(model, "torch", dtype="float64", weights=w)
    (tmp_path / f"gen_t_{name}.py").write_text(src_t)
    mod = _import(tmp_path / f"gen_t_{name}.py", f"gen_t_{name}")
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == f"gen_t_{name}" and "reset_parameters" in vars(v))
    gen = cls().double()
    assert sorted(gen.state_dict()) == sorted(built.model.state_dict())
    gen.load_state_dict(built.model.state_dict())
    xs = built.to_inputs(random_inputs(model, 2, np.random.default_rng(0), "float64"))
    built.model.eval()
    gen.eval()
    assert torch.equal(built.model(*xs), gen(*xs))
    (tmp_path / f"gen_k_{name}.py").write_text(src_k)
    kmod = _import(tmp_path / f"gen_k_{name}.py", f"gen_k_{name}")
    km = specc.build(model, "keras", dtype="float64", weights=w)
    g = kmod.build_model("float64")
    assert sorted(v.path for v in g.weights) == sorted(v.path for v in km.weights)
    values = {v.path: v.numpy() for v in km.weights}
    for v in g.weights:
        v.assign(values[v.path])
    x = random_inputs(model, 2, np.random.default_rng(0), "float64")
    np.testing.assert_array_equal(np.asarray(km(x, training=False)), np.asarray(g(x, training=False)))
