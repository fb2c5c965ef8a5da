"""Protocols at the audio seams: where audio comes from and where it goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np
import numpy.typing as npt


class AudioSource(Protocol):
    """Yields mono int16 frames at ``sample_rate`` until the source ends or is closed."""

    sample_rate: int

    def frames(self) -> AsyncIterator[npt.NDArray[np.int16]]: ...

    async def close(self) -> None: ...


class AudioSink(Protocol):
    """Consumes mono int16 audio for one reply at a time."""

    async def begin(self, reply_id: str, sample_rate: int) -> None: ...

    async def write(self, samples: npt.NDArray[np.int16]) -> None: ...

    async def end(self) -> None: ...

    async def abort(self) -> None: ...
