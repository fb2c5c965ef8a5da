"""Pins the public API of tars_llm so changes to it are deliberate."""

from __future__ import annotations

import tars_llm


def test_exported_names() -> None:
    assert set(tars_llm.__all__) == {
        "DEFAULT_ASSET", "CallTool", "CancelToken", "ChatEvent", "ModelMessage",
        "ChatModel", "ChatRequest", "ChatResult", "DeltaCallback", "LLMConfig", "LLMError",
        "LlamaCppConfig", "LoopResult", "ModelAsset", "ModelAssetError", "ModelLoadError",
        "OpenAICompatConfig", "PromptBuilder", "PromptTooLongError", "ProviderConnectionError",
        "ProviderError", "ProviderHTTPError", "ProviderProtocolError", "ProviderTimeoutError",
        "SamplingConfig", "SamplingParams", "SyncChatModel", "TextDelta", "ModelToolCall",
        "ToolCallGate", "ToolInvocation", "ToolLoop", "collect", "create_chat_model",
        "default_cache_dir", "ensure_model", "parse_tool_calls", "stream_from_thread",
    }
    assert all(hasattr(tars_llm, name) for name in tars_llm.__all__)


def test_errors_share_one_base() -> None:
    for name in tars_llm.__all__:
        obj = getattr(tars_llm, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, tars_llm.LLMError)


def test_importing_the_package_does_not_load_heavy_modules() -> None:
    import subprocess
    import sys

    code = "import sys, tars_llm; print(sorted({'llama_cpp', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
