"""Moved to `core.errors` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.errors

sys.modules[__name__] = core.errors
