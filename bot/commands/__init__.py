"""The organisers' command-line tools, one module per subject; cli.py parses and dispatches."""
