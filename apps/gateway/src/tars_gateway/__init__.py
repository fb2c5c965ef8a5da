"""tars gateway: OpenAI-compatible HTTP endpoints and a web console, as a client of the bus."""

__version__ = "0.1.0"
