"""Cross-backend equivalence: ``specc.verify(spec) -> Report``."""

from .harness import VerifyError, verify
from .report import Report, Row

__all__ = ["verify", "Report", "Row", "VerifyError"]
