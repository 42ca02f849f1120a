"""How long is the code `specc compile` writes, next to the code an expert writes?

    python benchmarks/generated_lines.py [--json PATH] [--baseline PATH]

For every example spec and both targets: the generated module's lines of code (not blank,
not comments, docstrings excluded), split into the model part and the specc runtime copied
in.  Imports are not counted (on either side).  For the three models
`benchmarks/backend_speed.py` writes by hand (cnn = mnist_cnn, bilstm = text_bilstm,
transformer = transformer_classifier), the hand-written model's lines (its branch of
``torch_hand`` / ``keras_hand``: model, optimizer, schedule, clipping) and the ratio
generated / hand-written (target ≤ 1.3).  Those models compute nearly, not exactly, the
spec's function (PyTorch's default initialisers, NCHW input, Keras' own Adam): for
mnist_cnn, ``benchmarks/hand_equal.py`` is the code an expert writes for exactly the spec's
meaning (held equal by tests/test_hand_equal.py), counted as ``same`` with its ratio.
``--baseline`` (a ``--json`` file of an earlier run) adds the earlier code lines and ratio
beside each row.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

HAND = {"mnist_cnn": "cnn", "text_bilstm": "bilstm", "transformer_classifier": "transformer"}
RUNTIME_MARK = "specc runtime (copied)"
MODEL_MARK = "-- model"


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    doc_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            doc_lines.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc_lines.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc_lines)


def split(source: str) -> tuple[str, str]:
    """(copied runtime, the rest) of a generated module."""
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if RUNTIME_MARK in line), None)
    end = next((i for i, line in enumerate(lines) if line.startswith("#") and line.rstrip().endswith(MODEL_MARK)), None)
    if start is None or end is None:
        return "", source
    return "\n".join(lines[start:end]), "\n".join(lines[:start] + lines[end:])


def hand_lines() -> dict[str, dict[str, int]]:
    """Code lines of each hand-written model in backend_speed.py, per framework."""
    src = (ROOT / "benchmarks" / "backend_speed.py").read_text()
    tree = ast.parse(src)
    out: dict[str, dict[str, int]] = {}
    for fn_name, fw in (("torch_hand", "torch"), ("keras_hand", "keras")):
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn_name)
        rest = []
        for stmt in fn.body:
            if isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare) and isinstance(stmt.test.comparators[0], ast.Constant):
                key = stmt.test.comparators[0].value
                body = "\n".join(ast.get_source_segment(src, s) for s in stmt.body)
                out.setdefault(key, {})[fw] = code_lines(_dedent(body))
            elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                rest.append(ast.get_source_segment(src, stmt))
        out.setdefault("transformer", {})[fw] = code_lines(_dedent("\n".join(rest)))
    return out


def same_meaning_lines() -> dict[str, int]:
    """Code lines of benchmarks/hand_equal.py's mnist_cnn, per framework (the function
    bodies: imports and docstrings not counted)."""
    src = (ROOT / "benchmarks" / "hand_equal.py").read_text()
    tree = ast.parse(src)
    out = {}
    for fn_name, fw in (("torch_hand", "torch"), ("keras_hand", "keras")):
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn_name)
        out[fw] = code_lines(_dedent("\n".join(ast.get_source_segment(src, s) for s in fn.body)))
    return out


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--baseline", metavar="PATH", help="a --json file of an earlier run, shown beside")
    args = ap.parse_args(argv)
    import specc
    from specc.backends.keras.emit import emit_keras
    from specc.backends.torch.emit import emit_torch

    hand = hand_lines()
    same = same_meaning_lines()
    rows = []
    for spec in sorted((ROOT / "specs").glob("*.spec")):
        model = specc.load(spec)
        for fw, emit in (("torch", emit_torch), ("keras", emit_keras)):
            src = emit(model)
            runtime, rest = split(src)
            row = {"spec": spec.stem, "framework": fw, "lines": len(src.splitlines()), "code": code_lines(src), "runtime_code": code_lines(runtime) if runtime else 0}
            h = hand.get(HAND.get(spec.stem, ""), {}).get(fw)
            if h:
                row["hand_code"] = h
                row["ratio"] = round(row["code"] / h, 2)
            if spec.stem == "mnist_cnn":
                row["same_code"] = same[fw]
                row["same_ratio"] = round(row["code"] / same[fw], 2)
            rows.append(row)
    base = {}
    if args.baseline:
        base = {(r["spec"], r["framework"]): r for r in json.loads(Path(args.baseline).read_text())}
    extra = f" {'code before':>11} {'ratio before':>12}" if base else ""
    print(f"{'spec':24} {'fw':6} {'lines':>6} {'code':>5} {'runtime':>8} {'hand':>5} {'ratio':>6} {'same':>5} {'ratio':>6}{extra}")
    for r in rows:
        b = base.get((r["spec"], r["framework"]))
        more = f" {b['code'] if b else '':>11} {b.get('ratio', '') if b else '':>12}" if base else ""
        print(f"{r['spec']:24} {r['framework']:6} {r['lines']:6} {r['code']:5} {r['runtime_code']:8} {r.get('hand_code', ''):>5} {r.get('ratio', ''):>6} {r.get('same_code', ''):>5} {r.get('same_ratio', ''):>6}{more}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
