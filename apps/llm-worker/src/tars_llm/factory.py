"""Build the configured chat model (blocking: run it off the event loop)."""

from __future__ import annotations

from tars_llm.assets import ProgressCallback
from tars_llm.config import LLMConfig
from tars_llm.model import ChatModel


def create_chat_model(config: LLMConfig, progress: ProgressCallback | None = None) -> ChatModel:
    """Return the provider named by ``config.provider``, its model loaded.

    For ``llamacpp`` this may assemble and verify the bundled model (``progress`` reports it)
    and then loads it: seconds of blocking work. Raises ModelAssetError or ModelLoadError.
    """
    if config.provider == "openai":
        from tars_llm.openai_compat import OpenAICompatChatModel

        return OpenAICompatChatModel(config.openai)
    from tars_llm.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel.load(config.llamacpp, progress)
