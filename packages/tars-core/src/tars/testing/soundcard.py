"""A virtual sound card for tests: a private PulseAudio with a "mic" and a "speaker" null sink.

Worker processes started with :attr:`VirtualSoundCard.env` see, through sounddevice
(PortAudio -> ALSA -> the pulse plugin), a default input (the monitor of the "mic" sink) and a
default output (the "speaker" sink), just like a USB microphone and speaker. The card plays
WAV audio into the mic in real time, records the speaker (and the mic) continuously with
wall-clock timestamps, can unload and reload a sink (a device unplugged and plugged back) and
can route the speaker back into the mic at a chosen attenuation (an echo path, like a room).
Everything it starts is stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.audio.pcm import SAMPLE_RATE, write_wav
from tars.errors import TarsError

Int16Array = npt.NDArray[np.int16]
SINKS = ("mic", "speaker")
_ALSA_CONF = ("/usr/share/alsa/alsa.conf", "/usr/local/share/alsa/alsa.conf", "/etc/alsa/alsa.conf")


# The default ALSA device is the pulse plugin bound to the two sinks by name. PulseAudio would
# connect a stream whose sink is missing to another one, so an unplugged sink's ALSA device is
# pointed at a sound card that does not exist: opening it fails, as with an unplugged USB device.
_PCM = {"speaker": 'type pulse device "speaker"', "mic": 'type pulse device "mic.monitor"'}
_ABSENT = "type hw card 99"


def _asound(present: set[str]) -> str:
    pcm = {name: _PCM[name] if name in present else _ABSENT for name in _PCM}
    return (f'pcm.tars_speaker {{ {pcm["speaker"]} hint {{ show on description "virtual speaker" }} }}\n'
            f'pcm.tars_mic {{ {pcm["mic"]} hint {{ show on description "virtual mic" }} }}\n'
            'pcm.!default { type asym playback.pcm "tars_speaker" capture.pcm "tars_mic"\n'
            '               hint { show on description "tars virtual sound card" } }\n'
            "ctl.!default { type pulse }\n")


def _alsa_top(system_conf: str, ours: Path) -> str:
    """The system's alsa.conf with its first hook loading only ``ours``: no /etc/alsa/conf.d (whose
    pulse hook would make the default device plain "pulse" again), no ~/.asoundrc."""
    text = Path(system_conf).read_text()
    start = text.find("files [", text.find("@hooks"))
    if start < 0:
        raise SoundCardError(f"{system_conf}: no configuration hook to redirect")
    depth, i = 0, start + len("files ")
    for i in range(start + len("files "), len(text)):
        depth += {"[": 1, "]": -1}.get(text[i], 0)
        if depth == 0:
            break
    return text[:start] + f'files [ "{ours}" ]' + text[i + 1:]


class SoundCardError(TarsError, RuntimeError):
    """The virtual sound card could not be started or driven."""


def available() -> bool:
    """PulseAudio, its command-line tools and the ALSA pulse plugin are installed."""
    return all(shutil.which(p) for p in ("pulseaudio", "pactl", "paplay", "parec")) and (
        _alsa_conf() is not None
    )


def _alsa_conf() -> str | None:
    return next((p for p in _ALSA_CONF if os.path.isfile(p)), None)


@dataclass(frozen=True)
class Recording:
    """Mono int16 audio at ``rate`` whose sample 0 was heard at wall-clock ``start_ts``."""

    samples: Int16Array
    rate: int
    start_ts: float

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.rate

    def loud(self, *, threshold: float = 300.0, window_ms: int = 10) -> npt.NDArray[np.bool_]:
        """Per window of ``window_ms``: does its RMS exceed ``threshold``?"""
        n = max(1, self.rate * window_ms // 1000)
        usable = self.samples[: self.samples.size // n * n].astype(np.float64).reshape(-1, n)
        out: npt.NDArray[np.bool_] = np.sqrt((usable**2).mean(axis=1)) > threshold
        return out

    def first_sound_ts(self, *, threshold: float = 300.0, window_ms: int = 10) -> float | None:
        """Wall-clock time of the first loud window, or None if all is quiet."""
        idx = np.flatnonzero(self.loud(threshold=threshold, window_ms=window_ms))
        return None if idx.size == 0 else self.start_ts + idx[0] * window_ms / 1000

    def last_sound_ts(self, *, threshold: float = 300.0, window_ms: int = 10) -> float | None:
        """Wall-clock time of the end of the last loud window, or None if all is quiet."""
        idx = np.flatnonzero(self.loud(threshold=threshold, window_ms=window_ms))
        return None if idx.size == 0 else self.start_ts + (idx[-1] + 1) * window_ms / 1000

    def save(self, path: str | Path) -> Path:
        return write_wav(path, self.samples, self.rate)


@dataclass
class _Segment:
    """One uninterrupted run of a recorder: wall-clock start, raw chunks, sample count."""

    start: float
    chunks: list[bytes]
    total: int


class _Tap:
    """Records one PulseAudio source (``parec``) continuously; restarts it if the source goes.

    Each chunk is stamped on arrival; the wall-clock time of a segment's first sample is the
    smallest ``arrival - samples_so_far / rate`` seen (arrival is never early).
    """

    def __init__(self, card: VirtualSoundCard, source: str, rate: int, max_s: float) -> None:
        self.card, self.source, self.rate = card, source, rate
        self._max = int(max_s * rate)
        self._segments: list[_Segment] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"tap-{source}", daemon=True)
        self._flowing = threading.Condition(self._lock)
        self._run_started = 0.0  # wall clock of the current segment's first chunk

    def wait_flowing(self, timeout: float = 10.0) -> None:
        """Block until a recorder started after now delivers audio in real time."""
        since = time.time()
        with self._flowing:
            ok = self._flowing.wait_for(
                lambda: self._run_started >= since - 1.0 and bool(self._segments)
                and self._segments[-1].total >= self.rate // 5, timeout)
        if not ok:
            raise SoundCardError(f"no audio from {self.source} within {timeout:g} s")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            cmd = ["parec", "--raw", "--format=s16le", f"--rate={self.rate}", "--channels=1",
                   "--latency-msec=10", f"--device={self.source}", "--client-name=tars-test-tap"]
            proc = subprocess.Popen(cmd, env={**os.environ, **self.card.env},
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            self._proc = proc
            assert proc.stdout is not None
            self._read(proc.stdout.fileno())
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            self._stop.wait(0.2)

    def _read(self, fd: int) -> None:
        seg: _Segment | None = None
        pending = b""
        while not self._stop.is_set():
            data = os.read(fd, 4096)
            if not data:
                return
            now = time.time()
            data, pending = pending + data, b""
            if len(data) % 2:
                data, pending = data[:-1], data[-1:]
            with self._lock:
                if seg is None:
                    seg = _Segment(now, [], 0)
                    self._segments.append(seg)
                    self._run_started = now
                seg.chunks.append(data)
                seg.total += len(data) // 2
                seg.start = min(seg.start, now - seg.total / self.rate)
                self._trim()
                self._flowing.notify_all()

    def _trim(self) -> None:
        held = sum(s.total for s in self._segments)
        while held > self._max and self._segments:
            first = self._segments[0]
            if len(first.chunks) <= 1:
                self._segments.pop(0)
                held -= first.total
                continue
            dropped = len(first.chunks.pop(0)) // 2
            first.start += dropped / self.rate
            first.total -= dropped
            held -= dropped

    def audio(self, since: float, until: float | None = None) -> Recording:
        """Everything heard from wall-clock ``since`` to ``until`` (now); gaps are silence."""
        until = time.time() if until is None else until
        n = max(0, int((until - since) * self.rate))
        out = np.zeros(n, dtype=np.int16)
        with self._lock:
            segments = [(s.start, b"".join(s.chunks)) for s in self._segments]
        for start, raw in segments:
            seg = np.frombuffer(raw, dtype="<i2")
            first = round((start - since) * self.rate)
            lo, hi = max(0, first), min(n, first + seg.size)
            if hi > lo:
                out[lo:hi] = seg[lo - first: hi - first]
        return Recording(out, self.rate, since)

    def stop(self) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        self._thread.join(5)


class VirtualSoundCard:
    """A private PulseAudio server in ``root`` (a short directory: it holds the socket)."""

    def __init__(self, root: Path, *, speaker_rate: int = 48_000, mic_rate: int = SAMPLE_RATE,
                 record_rate: int = SAMPLE_RATE, max_record_s: float = 600.0) -> None:
        self.root = root
        self.socket = root / "native"
        self.rates = {"speaker": speaker_rate, "mic": mic_rate}
        self.record_rate = record_rate
        self.max_record_s = max_record_s
        self.env: dict[str, str] = {}
        self._server: subprocess.Popen[bytes] | None = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._taps: dict[str, _Tap] = {}
        self._echo_db: float | None = None
        self._present = set(SINKS)

    # -- life cycle ---------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        alsa = _alsa_conf()
        if not available() or alsa is None:
            raise SoundCardError("the virtual sound card needs Debian pulseaudio, "
                                 "pulseaudio-utils and libasound2-plugins")
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        (self.root / "client.conf").write_text("autospawn = no\nenable-shm = no\n")
        self._write_asound()
        (self.root / "alsa.conf").write_text(_alsa_top(alsa, self.root / "asound.conf"))
        (self.root / "default.pa").write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-cli-protocol-unix socket={self.root / 'cli'}\n"
            + "".join(self._sink_cmd(name) + "\n" for name in SINKS)
            + "set-default-sink speaker\nset-default-source mic.monitor\n")
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_CLIENTCONFIG": str(self.root / "client.conf"),
            "PULSE_COOKIE": str(self.root / "cookie"),
            "ALSA_CONFIG_PATH": str(self.root / "alsa.conf"),
        }
        server_env = {**os.environ, **self.env, "HOME": str(self.root / "home"),
                      "XDG_RUNTIME_DIR": str(self.root), "PULSE_RUNTIME_PATH": str(self.root),
                      "PULSE_STATE_PATH": str(self.root / "state")}
        with (self.root / "pulseaudio.log").open("ab") as log:
            self._server = subprocess.Popen(
                ["pulseaudio", "-n", "-F", str(self.root / "default.pa"), "--daemonize=no",
                 "--exit-idle-time=10",  # an orphan (its test process killed) exits by itself
                 "--use-pid-file=no", "--disable-shm=yes", "--system=no", "--disallow-exit",
                 "--log-target=stderr", "--log-level=warning"],
                env=server_env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while self._pactl("info", check=False).returncode != 0:
            if self._server.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SoundCardError("pulseaudio did not start: "
                                     + (self.root / "pulseaudio.log").read_text()[-500:])
            time.sleep(0.05)
        for name in SINKS:  # a low-latency reader keeps each null sink running in real time
            self._taps[name] = _Tap(self, f"{name}.monitor", self.record_rate, self.max_record_s)
            self._taps[name].start()
        for tap in self._taps.values():
            tap.wait_flowing(timeout)

    def stop(self) -> None:
        """Stop every process this card started (players, taps, the server), by PID."""
        for tap in self._taps.values():
            tap.stop()
        for proc in [*self._players, *([self._server] if self._server else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._players.clear()
        self._server = None

    def _write_asound(self) -> None:
        """(Re)write the ALSA config; a new file (inode) makes libasound read it again."""
        tmp = self.root / "asound.conf.new"
        tmp.write_text(_asound(self._present))
        os.replace(tmp, self.root / "asound.conf")

    def _sink_cmd(self, name: str) -> str:
        channels = 1 if name == "mic" else 2
        return (f"load-module module-null-sink sink_name={name} rate={self.rates[name]} "
                f"channels={channels} sink_properties=device.description={name}")

    def _pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(["pactl", *args], env={**os.environ, **self.env}, text=True,
                             capture_output=True, timeout=10, check=False)
        if check and res.returncode != 0:
            raise SoundCardError(f"pactl {' '.join(args)}: {res.stderr.strip()}")
        return res

    # -- audio in and out -----------------------------------------------------------------
    def play(self, audio: Int16Array | str | Path, rate: int = SAMPLE_RATE, *,
             device: str = "mic", wait: bool = True) -> subprocess.Popen[bytes]:
        """Play a WAV file (or int16 samples at ``rate``) into ``device`` in real time."""
        path = Path(audio) if isinstance(audio, str | Path) else None
        if path is None:
            fd, name = tempfile.mkstemp(suffix=".wav", dir=self.root)
            os.close(fd)
            path = write_wav(name, np.asarray(audio, dtype=np.int16), rate)
        proc = subprocess.Popen(["paplay", f"--device={device}", "--latency-msec=20", str(path)],
                                env={**os.environ, **self.env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._players.append(proc)
        if wait:
            proc.wait(max(30.0, 3 * _wav_seconds(path) + 10))
        return proc

    def speaker(self, since: float, until: float | None = None) -> Recording:
        """What the speaker played from wall-clock ``since`` to ``until`` (default: now)."""
        return self._taps["speaker"].audio(since, until)

    def mic(self, since: float, until: float | None = None) -> Recording:
        """What went into the microphone (played audio plus any echo) in that time."""
        return self._taps["mic"].audio(since, until)

    @contextlib.contextmanager
    def recording(self, device: str = "speaker") -> Iterator[list[Recording]]:
        """``with card.recording() as rec: ...`` -> ``rec[0]`` is what was heard inside."""
        out: list[Recording] = []
        since = time.time()
        try:
            yield out
        finally:
            out.append(self._taps[device].audio(since))

    # -- faults and the room ------------------------------------------------------------------
    def sinks(self) -> list[str]:
        lines = self._pactl("list", "short", "sinks").stdout.splitlines()
        return [line.split("\t")[1] for line in lines if "\t" in line]

    def _short(self, kind: str) -> list[list[str]]:
        return [line.split("\t") for line in self._pactl("list", "short", kind).stdout.splitlines()]

    def unload_sink(self, name: str) -> None:
        """Remove a sink (the device is unplugged); its monitor source goes with it.

        PulseAudio would move the streams that used it to another sink; an unplugged USB
        device ends them instead, so they are killed (their clients see the device fail)."""
        module = next((m[0] for m in self._short("modules") if len(m) > 2
                       and m[1] == "module-null-sink" and f"sink_name={name} " in m[2]), None)
        if module is None:
            raise SoundCardError(f"no sink named {name!r} is loaded")
        sink = next(s[0] for s in self._short("sinks") if s[1] == name)
        source = next(s[0] for s in self._short("sources") if s[1] == f"{name}.monitor")
        inputs = [i[0] for i in self._short("sink-inputs") if i[1] == sink and i[3] != "module-loopback.c"]
        outputs = [o[0] for o in self._short("source-outputs") if o[1] == source
                   and o[3] != "module-loopback.c"]
        self._present.discard(name)
        self._write_asound()
        self._pactl("unload-module", module)
        self._cli(*(f"kill-sink-input {i}" for i in inputs),
                  *(f"kill-source-output {o}" for o in outputs))

    def _cli(self, *commands: str) -> str:
        """Run commands on the server's CLI socket (what pacmd does; pactl cannot kill streams)."""
        if not commands:
            return ""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.root / "cli"))
            sock.sendall(("\n".join(commands) + "\nexit\n").encode())
            out = b""
            with contextlib.suppress(TimeoutError):
                while chunk := sock.recv(4096):
                    out += chunk
        return out.decode(errors="replace")

    def load_sink(self, name: str) -> None:
        """Put a sink back (the device is plugged in again) and make it the default again."""
        if name in self.sinks():
            return
        self._pactl(*self._sink_cmd(name).split())
        self._taps[name].wait_flowing()  # the sink runs in real time before anyone opens it
        self._present.add(name)
        self._write_asound()
        if name == "speaker":
            self._pactl("set-default-sink", "speaker")
        else:
            self._pactl("set-default-source", "mic.monitor")
        if self._echo_db is not None:
            self.set_echo(self._echo_db)

    def set_echo(self, attenuation_db: float | None) -> None:
        """Route the speaker into the mic, ``attenuation_db`` quieter (None: no echo path)."""
        for line in self._pactl("list", "short", "modules").stdout.splitlines():
            parts = line.split("\t")
            if len(parts) > 1 and parts[1] == "module-loopback":
                self._pactl("unload-module", parts[0])
        self._echo_db = attenuation_db
        if attenuation_db is None:
            return
        self._pactl("load-module", "module-loopback", "source=speaker.monitor", "sink=mic",
                    "latency_msec=20", "source_dont_move=true", "sink_dont_move=true")
        for line in self._pactl("list", "short", "sink-inputs").stdout.splitlines():
            parts = line.split("\t")
            if len(parts) > 3 and parts[3] == "module-loopback.c":
                self._pactl("set-sink-input-volume", parts[0], f"{-abs(attenuation_db):g}dB")


def _wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as wf:
            return wf.getnframes() / float(wf.getframerate())
    except (wave.Error, OSError, EOFError):
        return 10.0


@contextlib.contextmanager
def virtual_sound_card(**kw: int | float) -> Iterator[VirtualSoundCard]:
    """Start a card in a fresh short temporary directory; stop it and remove the directory."""
    root = Path(tempfile.mkdtemp(prefix="tars-snd-"))
    card = VirtualSoundCard(root, **kw)  # type: ignore[arg-type]
    try:
        card.start()
        yield card
    finally:
        card.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["Recording", "SoundCardError", "VirtualSoundCard", "available", "virtual_sound_card"]
