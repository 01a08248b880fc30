"""Baselines under one protocol (issue 5): adapters around the authors' own code, run as
external programs in their own environments (`external.py`), plus `precomputed` outputs.

One module per baseline; each docstring cites the files of the official repository its
contract was read from, at the commit the adapter pins.
"""
