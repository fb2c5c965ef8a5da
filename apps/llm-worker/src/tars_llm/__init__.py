"""tars LLM engine: chat models, prompt building, tool-call parsing and the tool loop."""

from tars_llm.assets import DEFAULT_ASSET, ModelAsset, default_cache_dir, ensure_model
from tars_llm.config import (
    LlamaCppConfig,
    LLMConfig,
    OpenAICompatConfig,
    SamplingConfig,
)
from tars_llm.errors import (
    LLMError,
    ModelAssetError,
    ModelLoadError,
    PromptTooLongError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderTimeoutError,
)
from tars_llm.factory import create_chat_model
from tars_llm.model import ChatModel, SyncChatModel, collect, stream_from_thread
from tars_llm.prompt import PromptBuilder
from tars_llm.toolcalls import ToolCallGate, parse_tool_calls
from tars_llm.toolloop import (
    CallTool,
    DeltaCallback,
    LoopResult,
    ToolInvocation,
    ToolLoop,
)
from tars_llm.types import (
    CancelToken,
    ChatEvent,
    ChatRequest,
    ChatResult,
    ModelMessage,
    ModelToolCall,
    SamplingParams,
    TextDelta,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ASSET",
    "CallTool",
    "CancelToken",
    "ChatEvent",
    "ChatModel",
    "ChatRequest",
    "ChatResult",
    "DeltaCallback",
    "LLMConfig",
    "LLMError",
    "LlamaCppConfig",
    "LoopResult",
    "ModelAsset",
    "ModelAssetError",
    "ModelLoadError",
    "ModelMessage",
    "ModelToolCall",
    "OpenAICompatConfig",
    "PromptBuilder",
    "PromptTooLongError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderProtocolError",
    "ProviderTimeoutError",
    "SamplingConfig",
    "SamplingParams",
    "SyncChatModel",
    "TextDelta",
    "ToolCallGate",
    "ToolInvocation",
    "ToolLoop",
    "collect",
    "create_chat_model",
    "default_cache_dir",
    "ensure_model",
    "parse_tool_calls",
    "stream_from_thread",
]
