"""pytest integration: equivalence tests in a team's own suite.

* ``specc.testing.assert_equivalent("model.spec")`` — raises ``AssertionError`` with the
  layer table when the backends disagree; returns the Report otherwise.
* Collect every ``*.spec`` under the test paths as an equivalence test (float32 and
  float64) with ``pytest --specc`` or, in the ini file, ``specc_collect = true``
  (``specc_dtypes = float32 float64`` chooses the precisions).

This module is loaded by pytest for every project where specc is installed, so it imports
nothing heavy: frameworks are imported only when a spec test runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["assert_equivalent", "SpecEquivalenceError"]


class SpecEquivalenceError(AssertionError):
    """The backends disagree; the message holds the layer table."""

    def __init__(self, report):
        self.report = report
        super().__init__(report.render_text(compact=True))


def assert_equivalent(spec, *, dtype: str = "float64", steps: int | None = None, backends=("torch", "keras"), seed: int = 0, **kwargs):
    """Verify ``spec`` (a path, spec text or Model); raise with the layer table if the
    backends disagree.  ``against=model`` checks a user's own model (a port) against the
    spec instead (see :func:`specc.verify`)."""
    from specc.verification import verify

    report = verify(spec, dtype=dtype, steps=steps, backends=tuple(backends), seed=seed, **kwargs)
    if not report.ok:
        raise SpecEquivalenceError(report)
    return report


# --------------------------------------------------------------------------- pytest plugin


def pytest_addoption(parser):
    group = parser.getgroup("specc")
    group.addoption("--specc", action="store_true", default=None, help="collect *.spec files as backend-equivalence tests")
    parser.addini("specc_collect", "collect *.spec files as backend-equivalence tests", type="bool", default=False)
    parser.addini("specc_dtypes", "precisions to verify collected specs in", type="args", default=["float32", "float64"])


def _enabled(config) -> bool:
    opt = config.getoption("--specc", default=None)
    return bool(opt) if opt is not None else bool(config.getini("specc_collect"))


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".spec" and _enabled(parent.config):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    def collect(self):
        for dtype in self.config.getini("specc_dtypes"):
            yield SpecItem.from_parent(self, name=f"equivalent[{dtype}]", dtype=dtype)


class SpecItem(pytest.Item):
    def __init__(self, *, dtype: str, **kwargs):
        super().__init__(**kwargs)
        self.dtype = dtype

    def runtest(self):
        assert_equivalent(self.path, dtype=self.dtype)

    def repr_failure(self, excinfo, style=None):
        from specc.errors import SpecError

        if isinstance(excinfo.value, SpecError):
            return excinfo.value.render()
        if isinstance(excinfo.value, SpecEquivalenceError):
            return str(excinfo.value)
        if type(excinfo.value).__name__ == "VerifyError":  # could not compare (device, precision)
            return f"{self.path}: error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: torch vs keras ({self.dtype})"
