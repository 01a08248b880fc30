"""Moved to `core.envinfo` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.envinfo

sys.modules[__name__] = core.envinfo
