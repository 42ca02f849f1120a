"""Partial installs, for real: every command run with a framework or extra hidden (as if not
installed — ``find_spec`` finds nothing, ``import`` raises ModuleNotFoundError; see
tests/hide_packages.py).  A command that needs the missing package says which one and the
pip extra that brings it, exit 2 — before any heavy import; one that does not need it
works; nothing ends in an internal error, and nothing imports a hidden package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.cli import main

ROOT = Path(__file__).resolve().parents[1]

TINY = """
model tiny {
  input x: float32[6]
  dense(4, activation=relu)
  dense(3, activation=softmax)
  train {
    loss sparse_categorical_crossentropy
    optimizer adam(lr=1e-2)
    batch 16
    epochs 1
  }
}
"""

TORCH = "pip install 'specc[torch]'"
KERAS = "pip install 'specc[keras]'"
EXPORT = "pip install 'specc[export]'"
TRAIN = "pip install 'specc[train]'"
W = ["--weights", "w.safetensors"]
SYN = ["--data", "synthetic"]

# hidden packages → [(argv, expected exit status, text the message must hold)]; 0 = works
CASES = {
    "keras,tensorflow,tf2onnx": [  # pip install 'specc[torch]'
        (["check", "tiny.spec"], 0, ""),
        (["fmt", "tiny.spec"], 0, ""),
        (["schema"], 0, ""),
        (["compile", "tiny.spec", "--to", "keras"], (0, 2), KERAS),
        (["verify", "tiny.spec"], 2, "specc verify (the keras side of --backends torch,keras) needs Keras 3"),
        (["train", "tiny.spec", "--backend", "keras", *SYN, "--out", "o"], 2, KERAS),
        (["evaluate", "tiny.spec", *W, "--backend", "keras", *SYN], 2, KERAS),
        (["export", "tiny.spec", *W, "--to", "keras", "-o", "m.keras"], 2, KERAS),
        (["export", "tiny.spec", *W, "--to", "savedmodel", "-o", "sm"], 2, KERAS),
        (["export", "tiny.spec", *W, "--to", "onnx", "--backend", "keras", "-o", "m.onnx"], 2, KERAS),
        (["weights", "init", "tiny.spec", "-o", "k.weights.h5"], 2, KERAS),
        (["weights", "convert", "tiny.spec", "w.safetensors", "k.weights.h5"], 2, KERAS),
        (["weights", "init", "tiny.spec", "-o", "c.safetensors"], 0, ""),
    ],
    "torch": [  # pip install 'specc[keras]'
        (["compile", "tiny.spec", "--to", "torch"], (0, 2), TORCH),
        (["verify", "tiny.spec"], 2, "needs PyTorch"),
        (["verify", "tiny.spec", "--backends", "keras,torch"], 2, TORCH),
        (["train", "tiny.spec", "--backend", "torch", *SYN, "--out", "o"], 2, TORCH),
        (["evaluate", "tiny.spec", *W, "--backend", "torch", *SYN], 2, TORCH),
        (["export", "tiny.spec", *W, "--to", "torchscript", "-o", "m.pt"], 2, TORCH),
        (["export", "tiny.spec", *W, "--to", "onnx", "--backend", "torch", "-o", "m.onnx"], 2, TORCH),
        (["weights", "init", "tiny.spec", "-o", "t.pt"], 2, TORCH),
        (["weights", "convert", "tiny.spec", "w.safetensors", "t.pt"], 2, TORCH),
        (["weights", "convert", "tiny.spec", "t.safetensors", "c.safetensors", "--from", "torch"], 2, TORCH),
    ],
    "torch,keras,tensorflow": [  # specc alone
        (["check", "tiny.spec"], 0, ""),
        (["fmt", "tiny.spec"], 0, ""),
        (["compile", "tiny.spec", "--to", "torch"], (0, 2), TORCH),
        (["compile", "tiny.spec", "--to", "keras"], (0, 2), KERAS),
        (["train", "tiny.spec", *SYN, "--out", "o"], 2, "neither is installed"),
        (["evaluate", "tiny.spec", *W, *SYN], 2, "neither is installed"),
        (["export", "tiny.spec", *W, "--to", "onnx", "-o", "m.onnx"], 2, "needs PyTorch"),
        (["weights", "init", "tiny.spec", "-o", "c.npz"], 0, ""),
    ],
    "onnx,onnxruntime,tf2onnx": [  # no 'specc[export]'
        (["export", "tiny.spec", *W, "--to", "onnx", "-o", "m.onnx"], 2, f"specc export --to onnx needs onnx, which is not installed (no module named 'onnx')\n  = help: install it with {EXPORT}"),
        (["export", "tiny.spec", *W, "--to", "onnx", "-o", "m.onnx", "--backend", "keras"], 2, "needs tf2onnx"),
    ],
    "tensorboardX": [
        (["train", "tiny.spec", *SYN, "--out", "tb", "--tensorboard", "-q"], 2, "--tensorboard needs tensorboardX, which is not installed (no module named 'tensorboardX')\n  = help: install it with pip install 'specc[tensorboard]'"),
    ],
    "onnxruntime": [
        (["export", "tiny.spec", *W, "--to", "onnx", "-o", "m.onnx"], 2, "or pass --no-check"),
    ],
    "sklearn,matplotlib": [  # no 'specc[train]'
        (["train", "digits.spec", "--out", "o"], 2, f"--data digits needs scikit-learn, which is not installed (no module named 'sklearn')\n  = help: install it with {TRAIN}, or use --data synthetic"),
        (["evaluate", "digits.spec", "--weights", "digits.safetensors"], 2, TRAIN),
    ],
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("partial")
    (d / "tiny.spec").write_text(TINY)
    (d / "digits.spec").write_text((ROOT / "specs" / "digits_cnn.spec").read_text())
    assert main(["weights", "init", str(d / "digits.spec"), "-o", str(d / "digits.safetensors")]) == 0
    assert main(["weights", "init", str(d / "tiny.spec"), "-o", str(d / "w.safetensors")]) == 0
    assert main(["weights", "init", str(d / "tiny.spec"), "-o", str(d / "t.safetensors"), "--to", "torch"]) == 0
    return d


@pytest.mark.parametrize("hidden", list(CASES))
def test_commands_with_missing_packages(workdir, hidden):
    cmds = workdir / f"cmds-{hidden}.json"
    cmds.write_text(json.dumps([argv for argv, _, _ in CASES[hidden]]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "hide_packages.py"), hidden, str(cmds)], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(CASES[hidden]), r.stdout + r.stderr
    for (argv, want, text), got in zip(CASES[hidden], results, strict=True):
        what = f"{' '.join(argv)} without {hidden}: exit {got['rc']}\n{got['stderr']}"
        assert got["rc"] in (want if isinstance(want, tuple) else (want,)), what
        assert "internal error" not in got["stderr"], what
        if got["rc"] == 2:
            assert text in got["stderr"], what
            assert "error:" in got["stderr"] and "pip install" in got["stderr"], what
        assert got["leaked"] == [], what


def test_the_hiding_is_real(workdir):
    """The harness really hides: with torch hidden, importing it fails as when not installed."""
    code = f"import sys; sys.argv = ['x', 'torch']; sys.path.insert(0, {str(ROOT / 'tests')!r}); import hide_packages, importlib.util; print(importlib.util.find_spec('torch')); import torch"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "None"
    assert "ModuleNotFoundError: No module named 'torch'" in r.stderr


def test_missing_module_deep_inside_a_command(tmp_path, capsys, monkeypatch):
    """An import that fails late (inside a framework) is reported like a missing extra."""
    import specc.cli.compile as compile_cmd

    def emit(model, target):
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")

    monkeypatch.setattr(compile_cmd, "_emit", emit)
    (tmp_path / "t.spec").write_text(TINY)
    rc = main(["compile", str(tmp_path / "t.spec"), "--to", "keras"])
    err = capsys.readouterr().err
    assert rc == 2 and "specc compile --to keras needs TensorFlow" in err and KERAS in err
