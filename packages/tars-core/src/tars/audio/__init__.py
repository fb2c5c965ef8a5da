"""Audio primitives shared by the workers: PCM format, WAV I/O, resampling, device seams, the
intake of MQTT audio frames."""

from tars.audio.devices import (
    NoAudioDeviceError,
    close_quietly,
    describe_devices,
    one_line,
    require_device,
)
from tars.audio.intake import BadFrames, frame_samples
from tars.audio.pcm import (
    SAMPLE_RATE,
    AudioFormatError,
    int16_to_float,
    read_wav,
    resample,
    write_wav,
)
from tars.audio.seams import AudioSink, AudioSource

__all__ = [
    "SAMPLE_RATE",
    "AudioFormatError",
    "AudioSink",
    "AudioSource",
    "BadFrames",
    "NoAudioDeviceError",
    "close_quietly",
    "describe_devices",
    "frame_samples",
    "int16_to_float",
    "one_line",
    "read_wav",
    "require_device",
    "resample",
    "write_wav",
]
