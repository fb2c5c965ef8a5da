"""Errors raised by the tool engine, all under ``ToolError`` (a ``TarsError``).

The tree of every tars error is drawn in ``tars.runtime.errors``.
"""

from __future__ import annotations

from tars.errors import TarsError


class ToolError(TarsError):
    """Base class of every tool engine error."""


class UnknownToolError(ToolError):
    """No tool is registered under the requested name."""


class ToolArgumentError(ToolError):
    """The arguments do not match the tool's parameter schema."""


class ToolExecutionError(ToolError):
    """The tool ran and reported a failure."""


class CalculatorError(ToolExecutionError):
    """The calculator refused an expression or could not evaluate it."""


class ToolUnavailableError(ToolError):
    """The tool is known but cannot be called right now."""


class ToolTimeoutError(ToolError):
    """The tool did not answer within its timeout."""
