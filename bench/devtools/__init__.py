"""Developer tools that check the code base itself (`python -m bench.devtools.layers`)."""
