"""Render the topic registry as Markdown (``python -m tars.contracts.docs > docs/topics.md``)."""

from __future__ import annotations

from tars.contracts.envelope import SCHEMA_VERSION, Envelope
from tars.contracts.topics import ALL, TopicSpec


def _fields(model: type) -> str:
    names = list(getattr(model, "model_fields", {}))
    return ", ".join(f"`{n}`" for n in names)


def _roles(roles: tuple[str, ...]) -> str:
    return ", ".join(roles) or "cli"


def _subscribers(spec: TopicSpec) -> str:
    """Subscriber roles; a pooled one marked ``(shared)`` or ``(by site)``."""
    def mark(role: str) -> str:
        return (f"{role} (shared)" if role in spec.shared else f"{role} (by site)" if role in spec.by_site
                else role)
    return ", ".join(mark(r) for r in spec.sub) or "cli"


def render_topics_md() -> str:
    lines = [
        "# Topics",
        "",
        "Generated from `tars.contracts.topics` (a test keeps this file true). Every message is an",
        f"envelope (schema `{SCHEMA_VERSION}`) with {_fields(Envelope)}; `data` holds the payload.",
        "`{site}`, `{service}` and `{provider}` are single topic levels. Audio topics carry binary",
        "frames: `TPCM`, a 4-byte big-endian header length, the JSON envelope, then raw s16le PCM.",
        "",
        "Who may publish and subscribe each topic is declared here and nowhere else: the broker's",
        "ACL is generated from these columns (`cli`, the operator, may do everything). A publisher",
        "writes only its own `{service}`; a satellite only its own `{site}`. Command topics are never",
        "retained, and a retained copy is ignored.",
        "",
        "Worker pools (docs/scale.md): a subscriber marked *(shared)* subscribes through",
        "`$share/<role>/...`, so each message reaches one instance of the role; one marked",
        "*(by site)* handles only the sites its pool member owns (a stable hash of the site).",
        "",
        "| topic | type | payload | fields | QoS | retained | expiry | ordered | what | publishers "
        "| subscribers |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in ALL:
        lines.append(
            f"| `{spec.pattern}` | `{spec.type}` | {spec.model.__name__} | {_fields(spec.model)} | "
            f"{spec.qos} | {'yes' if spec.retain else ''} | "
            f"{f'{spec.expiry_s:g} s' if spec.expiry_s else ''} | {'yes' if spec.ordered else ''} | "
            f"{spec.description}{' (command)' if spec.command else ''} | {_roles(spec.pub)} | "
            f"{_subscribers(spec)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_topics_md(), end="")
