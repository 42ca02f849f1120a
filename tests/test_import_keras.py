"""specc import of Keras reference models (keras.io examples as their authors wrote them):
the spec checks, and both backends' compiled models equal the source model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.import_support import compiled_outputs, example_inputs, import_keras_reference, keras_source_output, max_rel

KERAS_REFERENCES = ["keras_mnist_convnet", "keras_bilstm_imdb", "keras_toy_resnet", "keras_timeseries_fcn", "keras_transformer_classifier"]

# float64: far above round-off (~1e-15), far below any semantic difference; float32: the
# per-layer round-off of float32 (~1e-7) grown over a few layers
TOL = {"float64": 1e-10, "float32": 2e-5}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", KERAS_REFERENCES)
def test_keras_reference_round_trip(name, dtype, rng):
    import specc

    src, result = import_keras_reference(name, dtype)
    assert specc.loads(result.text) == result.model  # the written spec is the imported model
    x = example_inputs(result.model, rng)
    want = keras_source_output(src, x, dtype)
    yt, yk = compiled_outputs(result, x, dtype)
    assert max_rel(yt, want) <= TOL[dtype]
    assert max_rel(yk, want) <= TOL[dtype]
    # the comparison can fail: perturb one imported weight and the outputs part
    k = next(k for k in result.weights if k.endswith("kernel") or k.endswith("embeddings"))
    result.weights[k] = result.weights[k] + 0.1 * np.sign(result.weights[k] + 1e-3)
    (yt2,) = compiled_outputs(result, x, dtype, backends=("torch",))
    assert max_rel(yt2, want) > 100 * TOL[dtype]


def test_unsupported_options_are_named():
    import keras
    from keras import layers

    from specc.importers import ImportFailure, import_model

    cases = [
        (layers.Embedding(10, 4, mask_zero=True, name="emb"), (5,), "int32", "mask_zero"),
        (layers.LSTM(3, stateful=False, unroll=False, recurrent_constraint="non_neg", name="rnn"), (5, 2), "float32", "recurrent_constraint"),
        (layers.Conv2D(2, 3, data_format="channels_first", name="cf"), (3, 8, 8), "float32", "channels_first"),
        (layers.Dense(2, activation="exponential", name="d"), (3,), "float32", "exponential"),
    ]
    for layer, shape, dtype, what in cases:
        inp = keras.Input(shape, dtype=dtype)
        m = keras.Model(inp, layer(inp))
        with pytest.raises(ImportFailure) as e:
            import_model(m)
        assert layer.name in str(e.value) and what in str(e.value), str(e.value)


def test_cli_import_keras_file(tmp_path, capsys):
    """`specc import FILE.keras` through the CLI, in this process (specc.cli.main; the
    `python -m specc` start is tested by test_train's and test_readme's CLI runs)."""
    import re

    import specc
    import specc.weights
    from specc.cli import main
    from tests.import_support import reference

    src = tmp_path / "mnist.keras"
    reference("keras_mnist_convnet").build().save(src)
    out, w = tmp_path / "m.spec", tmp_path / "m.safetensors"
    rc = main(["import", str(src), "-o", str(out), "--weights", str(w)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert re.search(r"conv2d(_\d+)?/kernel +→ +conv2d(_\d+)?\.kernel", err), err  # the mapping report
    rc = main(["fmt", "--check", str(out)])
    assert rc == 0, capsys.readouterr()
    model = specc.load(out)
    weights = specc.weights.load(w)
    assert set(weights) == set(model.weight_names())
    rc = main(["import", str(tmp_path / "none.keras")])
    err = capsys.readouterr().err
    assert rc == 2 and "no such file" in err and "Traceback" not in err


def test_nested_models_become_one_block_used_under_each_name(rng):
    """Identical nested Keras models keep their names and share one block; the import
    equals the source in float64; a JSON config imports too."""
    import keras
    from keras import layers

    from specc.importers import import_model
    from tests.import_support import keras_dtype

    with keras_dtype("float64"):

        def block(i):
            inp = keras.Input((8,))
            return keras.Model(inp, layers.Dense(8, activation="relu", name="fc")(layers.LayerNormalization(name="ln")(inp)), name=f"block_{i}")

        inp = keras.Input((8,), name="x")
        x = inp
        for i in range(3):
            x = block(i)(x)
        src = keras.Model(inp, layers.Dense(2, name="head")(x))
    result = import_model(src)
    assert result.text.count("block block_0()") == 1 and "block_0(name=block_2)" in result.text
    assert [n.name for n in result.model.nodes][-3:] == ["block_2.ln", "block_2.fc", "head"]
    x = example_inputs(result.model, rng)
    (yt,) = compiled_outputs(result, x, "float64", backends=("torch",))
    assert max_rel(yt, keras_source_output(src, x, "float64")) <= TOL["float64"]


def test_keras_json_config(tmp_path):
    from specc.importers import import_model
    from tests.import_support import reference

    src = reference("keras_toy_resnet").build()
    path = tmp_path / "m.json"
    path.write_text(src.to_json())
    result = import_model(str(path))
    assert [n.op.kind for n in result.model.nodes] == [n.op.kind for n in import_model(src).model.nodes]
