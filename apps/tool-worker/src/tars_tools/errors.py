"""Errors raised by the tool engine.

    ToolError
    ├── UnknownToolError        no tool of that name
    ├── ToolArgumentError       arguments do not fit the tool's schema
    ├── ToolExecutionError      the tool ran and failed (its message is safe to show the LLM)
    │   └── CalculatorError     an expression was refused or could not be evaluated
    ├── ToolUnavailableError    the tool exists but cannot run here now (server down, routed)
    └── ToolTimeoutError        the tool did not answer in time
"""

from __future__ import annotations


class ToolError(Exception):
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
