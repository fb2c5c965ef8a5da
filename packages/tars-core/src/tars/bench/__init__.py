"""Benchmarks shipped with tars; each returns one JSON-able dict (``tars bench NAME --json``)."""
