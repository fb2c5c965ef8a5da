"""Sound-device discovery through sounddevice, with one clear error when there is none."""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from tars.errors import TarsError


class NoAudioDeviceError(TarsError, RuntimeError):
    """No usable input or output device (or no PortAudio at all)."""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise NoAudioDeviceError(f"no audio device: PortAudio is not available ({exc})") from exc
    return sounddevice


def describe_devices() -> list[dict[str, Any]]:
    sd = _sounddevice()
    try:
        return [dict(d) for d in sd.query_devices()]
    except Exception as exc:  # PortAudio raises its own error type
        raise NoAudioDeviceError(f"no audio device: {exc}") from exc


def require_device(kind: Literal["input", "output"], device: str | int | None = None) -> int:
    """Return the index of the chosen (or default) device, or raise NoAudioDeviceError."""
    devices = describe_devices()
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [(i, d) for i, d in enumerate(devices) if int(d.get(key, 0)) > 0]
    if not usable:
        raise NoAudioDeviceError(f"no audio {kind} device found")
    if device is None or device == "":
        sd = _sounddevice()
        default = sd.default.device[0 if kind == "input" else 1]
        if isinstance(default, int) and default >= 0:
            return default
        return usable[0][0]
    if isinstance(device, int) or str(device).isdigit():
        idx = int(device)
        if any(i == idx for i, _ in usable):
            return idx
        raise NoAudioDeviceError(f"audio {kind} device {idx} does not exist")
    for i, d in usable:
        if str(device).lower() in str(d.get("name", "")).lower():
            return i
    raise NoAudioDeviceError(f"no audio {kind} device named {device!r}")


def close_quietly(stream: Any) -> None:
    """Abort and close a sounddevice stream whatever state it is in (a device that vanished)."""
    with contextlib.suppress(Exception):
        stream.abort()
    with contextlib.suppress(Exception):
        stream.close()


def one_line(exc: BaseException) -> str:
    """A device error on one line (PortAudio's messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
