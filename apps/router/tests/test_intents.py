"""Local intents: whole-phrase matching, negatives, and answers from the real clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tars.runtime.clock import ManualClock, SystemClock
from tars_router.answers import LocalAnswers, say_date, say_time
from tars_router.intents import IntentMatcher, IntentName, builtin_templates, normalize
from tars_router.wakephrase import WakePhrases

POSITIVE: list[tuple[str, IntentName, dict[str, str]]] = [
    ("What time is it?", IntentName.TIME, {}),
    ("what's the time", IntentName.TIME, {}),
    ("Hey Tars, what time is it right now?", IntentName.TIME, {}),
    ("Can you tell me the time, please?", IntentName.TIME, {}),
    ("Do you know what time it is?", IntentName.TIME, {}),
    ("What's the date today?", IntentName.DATE, {}),
    ("What day is it?", IntentName.DATE, {}),
    ("what is today's date", IntentName.DATE, {}),
    ("Stop.", IntentName.STOP, {}),
    ("Tars, stop!", IntentName.STOP, {}),
    ("Cancel that", IntentName.STOP, {}),
    ("Never mind.", IntentName.STOP, {}),
    ("Okay, never mind", IntentName.STOP, {}),
    ("Repeat that.", IntentName.REPEAT, {}),
    ("Could you say that again?", IntentName.REPEAT, {}),
    ("What did you say?", IntentName.REPEAT, {}),
    ("Volume up", IntentName.VOLUME, {"direction": "up"}),
    ("Turn it up a bit", IntentName.VOLUME, {"direction": "up"}),
    ("A little louder, please.", IntentName.VOLUME, {"direction": "up"}),
    ("Make it a bit louder, please.", IntentName.VOLUME, {"direction": "up"}),
    ("make that a little quieter", IntentName.VOLUME, {"direction": "down"}),
    ("Turn the volume down.", IntentName.VOLUME, {"direction": "down"}),
    ("quieter", IntentName.VOLUME, {"direction": "down"}),
    ("Set the volume to 40 percent", IntentName.VOLUME, {"level": "40"}),
    ("volume fifty", IntentName.VOLUME, {"level": "50"}),
    ("What's your name?", IntentName.NAME, {}),
    ("Who are you?", IntentName.NAME, {}),
    ("What should I call you?", IntentName.NAME, {}),
    ("Hello!", IntentName.GREET, {}),
    ("Good morning.", IntentName.GREET, {}),
    ("Are you there?", IntentName.GREET, {}),
    ("Set a timer for 10 seconds.", IntentName.TIMER, {"count": "10", "unit": "seconds"}),
    ("Could you start a five minute timer?", IntentName.TIMER, {"count": "5", "unit": "minutes"}),
    ("timer for 1 hour", IntentName.TIMER, {"count": "1", "unit": "hours"}),
    ("What is 12 times 7?", IntentName.CALCULATE, {"x": "12", "operator": "*", "y": "7"}),
    ("what's twelve times seven", IntentName.CALCULATE, {"x": "12", "operator": "*", "y": "7"}),
    ("Hey Tars, what is 1,234 plus 66?", IntentName.CALCULATE,
     {"x": "1234", "operator": "+", "y": "66"}),
    ("How much is 100 divided by 8?", IntentName.CALCULATE, {"x": "100", "operator": "/", "y": "8"}),
    ("calculate 9 minus 12", IntentName.CALCULATE, {"x": "9", "operator": "-", "y": "12"}),
    ("What's the square root of 81?", IntentName.CALCULATE, {"x": "81", "operator": "sqrt"}),
    ("Remember that my sister is called Ada.", IntentName.REMEMBER, {"fact": "my sister is called ada"}),
    ("Please remember my car is blue", IntentName.REMEMBER, {"fact": "my car is blue"}),
]

NEGATIVE = [
    "Hey.",
    "Hello, what is the capital of France?",
    "What time does the shop close?",
    "Set a timer for pasta.",
    "Stop the timer.",
    "Start the stopwatch.",
    "I know you are there.",
    "Sometimes I forget things.",
    "What's the time in Tokyo?",
    "What time is the meeting tomorrow?",
    "Don't stop believing.",
    "Remind me to repeat that tomorrow.",
    "What is the date of the next full moon?",
    "Who are you going to vote for?",
    "Set the volume to 400",
    "Tell me a story about a time machine.",
    "What is 15 percent of 80?",
    "What is 2.5 times 4?",
    "What is 12 times 7 times 3?",
    "How many times have I told you?",
    "Do you remember what I said?",
    "I can't remember my password.",
    "",
    "   ...  ",
]


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher(assistant_names=("tars", "hey tars"))


@pytest.mark.parametrize(("text", "name", "slots"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_positive(matcher: IntentMatcher, text: str, name: IntentName,
                  slots: dict[str, str]) -> None:
    intent = matcher.match(text)
    assert intent is not None, text
    assert intent.name is name
    assert dict(intent.slots) == slots
    assert intent.text == text


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative(matcher: IntentMatcher, text: str) -> None:
    assert matcher.match(text) is None


def test_normalize() -> None:
    assert normalize("  What’s   the TIME?! ") == "whats the time"


def test_time_answer_is_the_real_current_time() -> None:
    intent = IntentMatcher().match("what time is it")
    assert intent is not None
    before = datetime.now().astimezone()
    text = LocalAnswers(clock=SystemClock()).answer(intent).text
    assert text is not None
    found = re.fullmatch(r"It's (\d{1,2}):(\d{2}) (AM|PM)\.", text)
    assert found, text
    hour = int(found.group(1)) % 12 + (12 if found.group(3) == "PM" else 0)
    spoken = before.replace(hour=hour, minute=int(found.group(2)), second=0, microsecond=0)
    gap = abs((before.replace(second=0, microsecond=0) - spoken).total_seconds())
    assert min(gap, 86400 - gap) <= 60


def test_date_answer_is_today_in_the_configured_zone() -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: often a different day than UTC
    intent = IntentMatcher().match("what's the date")
    assert intent is not None
    text = LocalAnswers(clock=SystemClock(zone)).answer(intent).text
    now = datetime.now(zone)
    assert text in {say_date(now), say_date(now - timedelta(minutes=1))}
    assert now.strftime("%A") in (text or "")


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(0, 5, "It's 12:05 AM."), (9, 0, "It's 9:00 AM."), (12, 30, "It's 12:30 PM."),
     (15, 7, "It's 3:07 PM."), (23, 59, "It's 11:59 PM.")],
)
def test_time_format(hour: int, minute: int, expected: str) -> None:
    zone = ZoneInfo("Europe/Berlin")
    assert say_time(datetime(2026, 11, 23, hour, minute, tzinfo=zone)) == expected


def test_answers_use_the_local_zone_of_the_clock() -> None:
    start = datetime(2026, 11, 23, 14, 7, tzinfo=ZoneInfo("UTC")).astimezone(
        ZoneInfo("America/New_York"))
    answers = LocalAnswers(assistant_name="TARS", clock=ManualClock(start))
    matcher = IntentMatcher()
    time_intent, date_intent = matcher.match("time please"), matcher.match("what day is today")
    assert time_intent is not None and date_intent is not None
    assert answers.answer(time_intent).text == "It's 9:07 AM."
    assert answers.answer(date_intent).text == "Today is Monday, November 23."


def test_actions_for_control_intents() -> None:
    answers, matcher = LocalAnswers(assistant_name="TARS"), IntentMatcher()
    for text, action in [("stop", "stop"), ("repeat that", "repeat"), ("louder", "volume")]:
        intent = matcher.match(text)
        assert intent is not None
        result = answers.answer(intent)
        assert (result.action, result.text) == (action, None)
    name = matcher.match("who are you")
    assert name is not None
    assert "TARS" in (answers.answer(name).text or "")


NATURAL: list[tuple[str, IntentName, dict[str, str]]] = [
    ("Could you please tell me what time it is?", IntentName.TIME, {}),
    ("What's the time?", IntentName.TIME, {}),
    ("Hey Jarvis, what time is it?", IntentName.TIME, {}),
    ("What day is it today?", IntentName.DATE, {}),
    ("Turn the volume down.", IntentName.VOLUME, {"direction": "down"}),
    ("A bit louder.", IntentName.VOLUME, {"direction": "up"}),
    ("Could you turn it down a little bit, please?", IntentName.VOLUME, {"direction": "down"}),
    ("Volume to 50 percent.", IntentName.VOLUME, {"level": "50"}),
    ("Volume to 50%.", IntentName.VOLUME, {"level": "50"}),
    ("Set the volume to one hundred", IntentName.VOLUME, {"level": "100"}),
    ("What's your name?", IntentName.NAME, {}),
    ("Stop.", IntentName.STOP, {}),
    ("Hey Jarvis, stop!", IntentName.STOP, {}),
    ("Never mind.", IntentName.STOP, {}),
    ("stop, tars", IntentName.STOP, {}),
]


@pytest.mark.parametrize(("text", "name", "slots"), NATURAL, ids=[p[0] for p in NATURAL])
def test_natural_phrasings(text: str, name: IntentName, slots: dict[str, str]) -> None:
    intent = IntentMatcher(("tars", "hey jarvis", "jarvis")).match(text)
    assert intent is not None, text
    assert (intent.name, dict(intent.slots)) == (name, slots)


def test_templates_are_data_and_extra_files_extend_them(tmp_path: Path) -> None:
    assert "time" in builtin_templates().read_text()
    extra = tmp_path / "mine.yaml"
    extra.write_text('language: en\nintents:\n  time:\n    data:\n'
                     '      - sentences:\n          - "how late is it [(now|already)]"\n')
    assert IntentMatcher().match("how late is it already") is None
    matcher = IntentMatcher(extra_files=[extra])
    found = matcher.match("How late is it now?")
    assert found is not None and found.name is IntentName.TIME
    assert matcher.match("what time is it") is not None  # the packaged sentences stay
    bad = tmp_path / "bad.yaml"
    bad.write_text('language: en\nintents:\n  weather:\n    data:\n'
                   '      - sentences:\n          - "is it raining"\n')
    with pytest.raises(ValueError, match="weather"):
        IntentMatcher(extra_files=[bad])


@pytest.mark.parametrize(("text", "rest"), [
    ("Hey Jarvis, what time is it?", "what time is it?"),
    ("Hey, Jarvis. Stop!", "Stop!"),
    ("hey jarvis hey jarvis tell me a joke", "tell me a joke"),
    ("Jarvis", ""),
    ("Hey Jarvis.", ""),
    ("Hey TARS, how are you", "how are you"),
    ("Jarvisland is an island", "Jarvisland is an island"),
    ("hey there", "hey there"),
    ("What did Jarvis say?", "What did Jarvis say?"),
])
def test_wake_phrase_is_stripped_only_at_the_start(text: str, rest: str) -> None:
    phrases = WakePhrases()
    assert phrases.strip(text) == rest
    assert phrases.only_wake(text) is (rest == "")
