"""The CLI's one rich console (stdout), shared by the verb implementations."""

from rich.console import Console

console = Console(stderr=False, highlight=False)
