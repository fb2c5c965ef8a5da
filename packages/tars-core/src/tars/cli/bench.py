"""``tars bench``: benchmarks that print one JSON object each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tars.cli.common import configured_url, fail, plugins, print_json, url_is_configured

bench_app = typer.Typer(help="Benchmarks (JSON with --json). `tars bench all` runs every one.",
                        no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="key=value passed to the benchmark")]


def show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    table = Table(title=f"tars bench {result.get('bench', '')}", show_header=False)
    for key, value in result.items():
        if key != "bench":
            table.add_row(key, str(value))
    Console().print(table)


@bench_app.command("bus")
def bench_bus(
    json_: JsonOpt = False,
    url: Annotated[str | None, typer.Option(help="Broker to use (default: start one)")] = None,
    n: Annotated[int, typer.Option(help="Round trips")] = 2000,
) -> None:
    """QoS 1 request/response round trips through a real Mosquitto (rtt_p50_ms, rtt_p99_ms)."""
    from tars.bench import bus

    target = url or (configured_url(None) if url_is_configured() else None)
    show(bus.run(target, n=n), json_)


@bench_app.command("loop")
def bench_loop(
    json_: JsonOpt = False,
    duration: Annotated[float, typer.Option(help="Seconds of load")] = 5.0,
) -> None:
    """Event-loop lag while real CPU work runs through the offload helpers (lag_p99_ms)."""
    from tars.bench import loop

    show(loop.run(duration), json_)


@bench_app.command("voice")
def bench_voice(
    json_: JsonOpt = False,
    url: Annotated[str | None, typer.Option(help="A running stack's broker (default: start one)")] = None,
    rounds: Annotated[int, typer.Option(help="Times each question is asked")] = 1,
    cpus: Annotated[int | None, typer.Option(
        help="Confine the bench and every worker it starts to this many cores")] = None,
    acoustic: Annotated[bool, typer.Option(
        help="Through a virtual sound card (its own PulseAudio mic and speaker and its own "
             "stack), timed on the recorded signals; adds barge_in_stop_ms and false triggers")] = False,
) -> None:
    """Spoken questions ("hey jarvis, ...") through the full stack: voice-to-voice and every
    stage's p50/p95 per path (intent / llm), RSS, every worker's loop lag, ready time. Over MQTT
    audio by default."""
    if acoustic:
        from tars.bench import acoustic as bench_acoustic
        from tars.testing.soundcard import available

        if not available():
            raise fail("--acoustic needs pulseaudio, pulseaudio-utils and libasound2-plugins")
        show(bench_acoustic.run(rounds, cpus), json_)
        return
    from tars.bench import voice

    show(voice.run(configured_url(url), rounds, cpus), json_)


@bench_app.command("scale")
def bench_scale(
    json_: JsonOpt = False,
    satellites: Annotated[str, typer.Option(help="Numbers of simulated satellites, comma separated")] = "1,2,4",
    pools: Annotated[str, typer.Option(help="Pool sizes of stt, llm and tts, comma separated")] = "1,2",
    duration: Annotated[float, typer.Option(help="Seconds each (satellites, pool) run lasts")] = 10.0,
    url: Annotated[str | None, typer.Option(help="A broker to use (default: a private Mosquitto)")] = None,
) -> None:
    """K satellites (distinct sites, MQTT audio in real time) speaking turns back to back against
    pools of simulated stt/llm/tts workers with fixed service times: turns/min, voice-to-voice
    p50/p95, lost and duplicated turns, broker messages/s."""
    from tars.bench import scale

    try:
        ks = [int(x) for x in satellites.split(",") if x.strip()]
        sizes = [int(x) for x in pools.split(",") if x.strip()]
    except ValueError:
        raise fail("--satellites and --pools take comma-separated numbers") from None
    if not ks or not sizes or min(ks + sizes) < 1 or max(ks) > 64 or max(sizes) > 16 or not 1 <= duration <= 600:
        raise fail("--satellites 1..64, --pools 1..16, --duration 1..600 s")
    show(scale.run(ks, sizes, duration, url=url), json_)


@bench_app.command("chaos")
def bench_chaos(
    json_: JsonOpt = False,
    victims: Annotated[str, typer.Option(help="What to kill -9 mid-turn, comma separated")] =
        "llm,router,memory,tools,broker",
    timeout: Annotated[float, typer.Option(help="Seconds a turn or a recovery may take at most")] = 120.0,
) -> None:
    """A fresh `tars up`; for each victim a long LLM turn is interrupted by kill -9 of that worker
    (or of the broker), then a local intent and an LLM question are asked once it is back: how
    long each turn took to end after the kill, hung and crossed turns, right answers after."""
    from tars.bench import chaos

    chosen = tuple(v.strip() for v in victims.split(",") if v.strip())
    try:
        show(chaos.run(chosen, timeout), json_)
    except ValueError as exc:
        raise fail(str(exc)) from None


@bench_app.command("soak")
def bench_soak(
    json_: JsonOpt = False,
    duration: Annotated[float, typer.Option(help="Seconds of steady load")] = 600.0,
    every: Annotated[float, typer.Option(help="Seconds between turns")] = 6.0,
) -> None:
    """A fresh `tars up` under a steady load (one typed turn every --every s: the time, spoken
    arithmetic, an LLM question): right answers, lost turns and each worker's RSS slope."""
    from tars.bench import soak

    if not 10 <= duration <= 7200 or not 0.5 <= every <= 120:
        raise fail("--duration 10..7200 s, --every 0.5..120 s")
    show(soak.run(duration, every), json_)


def _parse_sets(sets: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--set expects key=value, got {item!r}")
        parsed: Any = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        out[key.replace("-", "_")] = parsed
    return out


def _plugin_command(name: str) -> Callable[..., None]:
    def command(json_: JsonOpt = False, set_: SetOpt = None) -> None:
        runner = plugins("tars.bench")[name].load()
        show(runner(**_parse_sets(set_)), json_)

    command.__doc__ = f"The {name} benchmark (installed by its worker)."
    return command


def register_plugins() -> None:
    for name in sorted(plugins("tars.bench")):
        bench_app.command(name)(_plugin_command(name))


@bench_app.command("all")
def bench_all(json_: JsonOpt = True) -> None:
    """Run every installed benchmark and print their JSON, one object per line."""
    from tars.bench import bus, loop

    show(bus.run(None), json_)
    show(loop.run(), json_)
    for name, ep in sorted(plugins("tars.bench").items()):
        try:
            show(ep.load()(), json_)
        except Exception as exc:  # one broken benchmark must not hide the others
            show({"bench": name, "error": str(exc)}, json_)
