"""Small driver scripts the harness runs *inside* a baseline's environment (Python 3.7–3.9,
standard library + that baseline's own packages), where the baseline offers a Python API but
no command line for one clip. They call the authors' code; they contain none of it."""
