"""Moved to `core.cache` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.cache

sys.modules[__name__] = core.cache
