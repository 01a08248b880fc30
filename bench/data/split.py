"""Moved to `core.split` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.split

sys.modules[__name__] = core.split
