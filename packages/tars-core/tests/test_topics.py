"""The topic registry: unique, well-formed, and documented in docs/topics.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.docs import render_topics_md
from tars.runtime.bus import topic_matches, validate_filter

ROOT = Path(__file__).resolve().parents[3]


def test_docs_topics_md_is_current() -> None:
    doc = (ROOT / "docs" / "topics.md").read_text()
    assert doc == render_topics_md(), "regenerate: python -m tars.contracts.docs > docs/topics.md"


def test_patterns_are_unique_and_under_the_root() -> None:
    patterns = [s.pattern for s in T.ALL]
    assert len(patterns) == len(set(patterns))
    assert all(p.startswith(T.ROOT + "/") for p in patterns)
    for spec in T.ALL:
        validate_filter(spec.filter)


def test_topic_fills_placeholders_and_matches_filter() -> None:
    topic = T.SYSTEM_STATUS.topic(service="stt")
    assert topic == "tars/system/status/stt"
    assert topic_matches(T.SYSTEM_STATUS.filter, topic)
    with pytest.raises(ValueError):
        T.AUDIO_MIC.topic(site="a/b")
    with pytest.raises(ValueError):
        T.AUDIO_MIC.topic()


def test_no_topic_literals_in_apps() -> None:
    offenders = []
    for path in (ROOT / "apps").glob("*/src/**/*.py"):
        text = path.read_text()
        if '"tars/' in text or "'tars/" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], "use tars.contracts.topics instead of topic strings"
