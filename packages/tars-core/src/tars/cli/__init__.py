"""The ``tars`` command line (typer + rich)."""
