"""Report errors (BenchError subclasses: the CLI prints them as `error: ...`, exit 2)."""

from core.errors import BenchError


class ReportError(BenchError):
    """A run or experiment folder cannot be rendered (missing, or written by an older version)."""
