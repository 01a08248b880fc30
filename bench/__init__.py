"""DyViM Bench: generate, score and compare video-to-music systems under one protocol.

Keep this module import-light: `bench --help` must answer in under a second, so torch,
librosa and friends are imported only inside the functions that need them.
"""

from core import __version__  # noqa: F401  (one version, kept in core)
