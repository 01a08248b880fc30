"""Moved to `core.manifest` (the bottom layer, see core/__init__.py); this old name is the same module."""
import sys

import core.manifest

sys.modules[__name__] = core.manifest
