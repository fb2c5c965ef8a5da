"""Multipart uploads streamed straight to a temporary file, with a size limit."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from tars_gateway.errors import BadRequest, TooLarge, UnsupportedMedia

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class Upload:
    """The form fields of a request and the one file it carried (on disk, caller removes it)."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str = ""
    content_type: str = ""
    size: int = 0

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _Receiver:
    """Callbacks of the multipart parser: file parts go to disk, other parts to memory."""

    def __init__(self, upload: Upload, file_field: str, limit: int, temp_dir: str | None) -> None:
        self.upload = upload
        self.file_field = file_field
        self.limit = limit
        self.temp_dir = temp_dir
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.out: IO[bytes] | None = None
        self.finished_file: IO[bytes] | None = None
        self.value = bytearray()
        self.pending = bytearray()
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers, self.name, self.value = {}, "", bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = opts.get(b"name", b"").decode("utf-8", "replace")
        if self.name == self.file_field and b"filename" in opts:
            if self.upload.path is not None:
                raise BadRequest("more than one file in the upload", param=self.file_field)
            fd, path = tempfile.mkstemp(prefix="tars-gw-", suffix=".upload", dir=self.temp_dir)
            self.upload.path = Path(path)
            self.upload.filename = opts[b"filename"].decode("utf-8", "replace")
            self.upload.content_type = self.headers.get(b"content-type", b"").decode("latin-1")
            self.out = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.upload.size += end - start
            if self.upload.size > self.limit:
                raise TooLarge(f"the file is larger than {self.limit // (1024 * 1024)} MB",
                               param=self.file_field, code="file_too_large")
            self.pending += data[start:end]
        else:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                raise TooLarge(f"form field {self.name!r} is too long", param=self.name)

    def on_part_end(self) -> None:
        if self.out is not None:
            self.finished_file = self.out
            self.out = None
        elif self.name:
            self.upload.fields[self.name] = self.value.decode("utf-8", "replace")

    def on_end(self) -> None:
        self.ended = True

    def flush(self) -> None:
        """Write what the parser passed on (called off the event loop); close a finished file."""
        target = self.out or self.finished_file
        if target is not None and self.pending:
            target.write(self.pending)
            self.pending = bytearray()
        if self.finished_file is not None:
            self.finished_file.close()
            self.finished_file = None

    def close(self) -> None:
        for f in (self.out, self.finished_file):
            if f is not None:
                f.close()
        self.out = self.finished_file = None


def boundary_of(content_type: str) -> bytes:
    kind, opts = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UnsupportedMedia(f"expected multipart/form-data, got {content_type or 'no content type'!r}")
    boundary = opts.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data without a boundary")
    return boundary


async def receive_upload(content_type: str, content_length: str | None, chunks: AsyncIterator[bytes], *,
                         file_field: str, limit: int, temp_dir: str | None = None) -> Upload:
    """Parse a multipart body as it arrives; the file part is written to a temporary file.

    Raises BadRequest / TooLarge / UnsupportedMedia; the temporary file is gone on any error.
    """
    boundary = boundary_of(content_type)
    if content_length is not None and content_length.isdigit() and int(content_length) > limit + MAX_FIELD_BYTES:
        raise TooLarge(f"the request is larger than {limit // (1024 * 1024)} MB", code="file_too_large")
    upload = Upload()
    receiver = _Receiver(upload, file_field, limit, temp_dir)
    callbacks = {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end", "on_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if receiver.pending or receiver.finished_file is not None:
                await asyncio.to_thread(receiver.flush)  # disk writes stay off the event loop
        parser.finalize()
        await asyncio.to_thread(receiver.flush)
        if not receiver.ended:
            raise BadRequest("the upload is truncated (the multipart body has no end)", code="truncated")
    except BaseException as exc:
        receiver.close()
        upload.remove()
        if isinstance(exc, ValueError) and not isinstance(exc, BadRequest):
            raise BadRequest(f"malformed multipart body: {exc}") from exc
        raise
    finally:
        receiver.close()
    return upload

