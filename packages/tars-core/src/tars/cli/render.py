"""How ``tars monitor`` renders messages: one line each, and a timeline when a turn ends."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from rich.text import Text

from tars.contracts.audio import is_audio_frame, unpack_audio
from tars.contracts.envelope import DecodeError, Envelope, decode
from tars.runtime.bus import Message

_COLOURS = ["cyan", "green", "magenta", "yellow", "blue", "bright_red", "bright_cyan",
            "bright_green", "bright_magenta", "bright_blue"]


def colour_for(source: str) -> str:
    service = source.split("-", 1)[0] if source else "?"
    return _COLOURS[zlib.crc32(service.encode()) % len(_COLOURS)]


def summarize(data: dict[str, Any], width: int = 90) -> str:
    parts = []
    for key, value in data.items():
        if value in (None, [], {}, ""):
            continue
        if isinstance(value, float):
            shown = f"{value:.3g}"
        elif isinstance(value, str):
            shown = repr(value if len(value) <= 60 else value[:57] + "...")
        else:
            shown = orjson.dumps(value).decode()
            if len(shown) > 40:
                shown = shown[:37] + "..."
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class Decoded:
    msg: Message
    envelope: Envelope | None
    pcm_bytes: int = 0
    error: str | None = None


def decode_message(msg: Message) -> Decoded:
    try:
        if is_audio_frame(msg.payload):
            env, pcm = unpack_audio(msg.payload)
            return Decoded(msg, env, len(pcm))
        return Decoded(msg, decode(msg.payload))
    except DecodeError as exc:
        return Decoded(msg, None, error=str(exc))


def render_line(d: Decoded) -> Text:
    env = d.envelope
    ts = env.ts if env else time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"
    line = Text(stamp + " ", style="dim")
    line.append(f"{d.msg.topic} ", style="bold")
    if env is None:
        raw = d.msg.payload[:80]
        try:
            shown = raw.decode()
        except UnicodeDecodeError:
            shown = raw.hex()
        line.append(f"(raw{', retained' if d.msg.retain else ''}) {shown}", style="dim")
        return line
    line.append(f"{env.type} ", style="italic")
    line.append(f"{env.source or '?'} ", style=colour_for(env.source))
    line.append(f"c:{env.correlation_id[:8]} ", style="dim")
    if env.site_id:
        line.append(f"@{env.site_id} ", style="dim")
    if d.pcm_bytes:
        line.append(f"pcm {d.pcm_bytes // 2} samples @{env.data.get('sample_rate')} Hz")
    else:
        line.append(summarize(env.data))
    return line


@dataclass
class Timelines:
    """Collects what each correlation id did and renders it when its turn ends."""

    turns: dict[str, list[tuple[float, str]]] = field(default_factory=dict)

    def add(self, env: Envelope, topic: str) -> Text | None:
        if env.type.startswith(("system.", "audio.")):
            return None
        label = env.type
        if env.type == "turn.event":
            label = f"turn {env.data.get('kind')}: {env.data.get('stage')}"
        elif env.type == "llm.chunk":
            label = "llm.chunk (first)" if env.data.get("seq") == 0 else ""
        elif env.type == "tts.status":
            label = f"tts {env.data.get('event')}"
        if label:
            self.turns.setdefault(env.correlation_id, []).append((env.ts, label))
        if env.type == "turn.event" and env.data.get("kind") == "ended":
            stages = env.data.get("stages")
            return self.render(env.correlation_id, env.data.get("reason"),
                               stages if isinstance(stages, dict) else None)
        return None

    def render(self, corr: str, reason: object, stages: dict[str, float] | None = None) -> Text:
        """The turn's messages and its stage stamps, anchored at the end of speech if known."""
        events = self.turns.pop(corr, [])
        events += [(float(ts), f"stage {name}") for name, ts in (stages or {}).items()
                   if isinstance(ts, int | float)]
        events.sort()
        anchor = (stages or {}).get("speech_end")
        start = float(anchor) if isinstance(anchor, int | float) else (events[0][0] if events else 0.0)
        where = ", 0 = end of speech" if isinstance(anchor, int | float) else ""
        out = Text(f"── turn {corr[:8]} ended ({reason}){where} ──\n", style="bold")
        for ts, label in events:
            ms = (ts - start) * 1000
            out.append(f"  {'-' if ms < 0 else '+'}{abs(ms):7.0f} ms  {label}\n")
        return out
