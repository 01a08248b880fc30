"""Moved to `core.atomic` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.atomic

sys.modules[__name__] = core.atomic
