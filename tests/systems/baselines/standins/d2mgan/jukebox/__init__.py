"""Stand-in for the bundled jukebox package."""
