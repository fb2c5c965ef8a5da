"""tars router engine: sentence streaming, local intents and the per-site turn machine."""

from tars_router.answers import LocalAnswer, LocalAnswers, say_date, say_time
from tars_router.history import ConversationHistory, Exchange
from tars_router.intents import Intent, IntentMatcher, IntentName, normalize
from tars_router.sentences import SentenceSplitter, SplitterConfig, split_sentences
from tars_router.turns import (
    EndReason,
    Transition,
    Turn,
    TurnConfig,
    TurnMachine,
    TurnState,
)

__all__ = [
    "ConversationHistory",
    "EndReason",
    "Exchange",
    "Intent",
    "IntentMatcher",
    "IntentName",
    "LocalAnswer",
    "LocalAnswers",
    "SentenceSplitter",
    "SplitterConfig",
    "Transition",
    "Turn",
    "TurnConfig",
    "TurnMachine",
    "TurnState",
    "normalize",
    "say_date",
    "say_time",
    "split_sentences",
]
