"""tars tool worker engine: built-in tools, persistent timers and an MCP tool hub."""

from tars_tools.builtins import build_registry, memory_tool_specs, parse_clock_time
from tars_tools.calculator import Calculator, CalculatorLimits
from tars_tools.errors import (
    CalculatorError,
    ToolArgumentError,
    ToolError,
    ToolExecutionError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnknownToolError,
)
from tars_tools.mcp_config import QUALIFIER, BackoffPolicy, McpServerConfig
from tars_tools.mcp_hub import McpTool, McpToolHub, ServerEvent, ServerEventKind
from tars_tools.registry import (
    DeclaredTool,
    FunctionTool,
    Tool,
    ToolRegistry,
    ToolResult,
)
from tars_tools.timers import FiredTimer, TimerScheduler, next_occurrence
from tars_tools.timerstore import Timer, TimerKind, TimerStatus, TimerStore
from tars_tools.toolbox import Toolbox

__all__ = [
    "QUALIFIER",
    "BackoffPolicy",
    "Calculator",
    "CalculatorError",
    "CalculatorLimits",
    "DeclaredTool",
    "FiredTimer",
    "FunctionTool",
    "McpServerConfig",
    "McpTool",
    "McpToolHub",
    "ServerEvent",
    "ServerEventKind",
    "Timer",
    "TimerKind",
    "TimerScheduler",
    "TimerStatus",
    "TimerStore",
    "Tool",
    "ToolArgumentError",
    "ToolError",
    "ToolExecutionError",
    "ToolRegistry",
    "ToolResult",
    "ToolTimeoutError",
    "ToolUnavailableError",
    "Toolbox",
    "UnknownToolError",
    "build_registry",
    "memory_tool_specs",
    "next_occurrence",
    "parse_clock_time",
]
