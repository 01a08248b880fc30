"""Named errors. Each message names the file or thing at fault and how to fix it."""

from __future__ import annotations


class BenchError(Exception):
    """Base class: the CLI prints these without a traceback and exits with status 2."""


class ConfigError(BenchError):
    """A config value, system name or dataset name is wrong."""


class UnknownNameError(ConfigError):
    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(self.known) or '(none)'}")


class MediaError(BenchError):
    """A media file is missing, unreadable, corrupt or does not fit the protocol."""

    def __init__(self, path, problem: str, fix: str = ""):
        self.path, self.problem = path, problem
        msg = f"{path}: {problem}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)


class DatasetError(BenchError):
    """A dataset folder, manifest or annotation file is missing or malformed."""


class RunConfigMismatch(BenchError):
    """A run folder already holds results made with a different config."""


class DiskFullError(BenchError):
    """Writing a result failed for lack of space; nothing half-written was kept."""


class ReadOnlyError(BenchError):
    """An output folder is read-only or not writable by this user."""


class WeightsNotFoundError(BenchError):
    """`weights: pretrained` was asked for and the checkpoint file is absent."""
