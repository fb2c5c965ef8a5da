"""Repository-wide pytest set-up: the shared broker and namespace fixtures."""

pytest_plugins = ["tars.testing.fixtures"]
