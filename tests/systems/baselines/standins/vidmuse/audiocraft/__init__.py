"""Stand-in for VidMuse's modified audiocraft package (must shadow any installed one)."""
VIDMUSE_MODIFIED = True
