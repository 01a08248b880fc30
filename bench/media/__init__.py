"""Moved to `core.media` (the bottom layer, see core/__init__.py); the old names are the same modules."""
import sys

import core.media
import core.media.audio
import core.media.video

sys.modules[__name__ + ".audio"] = core.media.audio
sys.modules[__name__ + ".video"] = core.media.video
sys.modules[__name__] = core.media
