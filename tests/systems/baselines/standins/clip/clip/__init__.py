from .clip import _download, _MODELS, load  # noqa: F401  (openai/CLIP's clip/__init__.py: from .clip import *)
