"""Where attachment bytes live: a small interface and a local-directory implementation.

Bytes are written in chunks to a temporary file inside the store (so the final rename is
atomic: same file system), hashed and size-checked while streaming, and only renamed to their
key when complete. A reader never sees a partial file under a key.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from resolvers.errors import PayloadTooLarge

CHUNK = 64 * 1024
_KEY = re.compile(r"^[a-z]{2,4}_[0-9a-z]{26}$")

#: Magic numbers of the binary types we recognise (checked at offset 0).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
    (b"PK\x07\x08", "application/zip"),  # a spanned archive
)
_HEAD = 16
#: Control characters that do not occur in text (TAB, LF, FF, CR and ESC are allowed).
_BINARY_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}
#: Every other byte: ``chunk.translate(None, _NOT_CONTROL)`` keeps only the controls (in C).
_NOT_CONTROL = bytes(b for b in range(256) if b not in _BINARY_CONTROLS)
OCTET_STREAM = "application/octet-stream"


class Sniffer:
    """Decides a content type from the bytes themselves, fed chunk by chunk.

    Binary types by magic number; otherwise text when every byte decodes as UTF-8 and no
    binary control character occurs, and JSON when that text starts with ``{`` or ``[`` and
    ends with the matching bracket. The client's declared type is never consulted.
    """

    def __init__(self) -> None:
        self._head = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._text = True
        self._first: str | None = None
        self._last: str | None = None
        self._seen = 0

    def feed(self, chunk: bytes) -> None:
        """Look at the next chunk."""
        self._seen += len(chunk)
        if len(self._head) < _HEAD:
            self._head += chunk[: _HEAD - len(self._head)]
        if not self._text:
            return
        if chunk.translate(None, _NOT_CONTROL):
            self._text = False
            return
        try:
            decoded = self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self._text = False
            return
        stripped = decoded.strip()
        if stripped:
            if self._first is None:
                self._first = stripped.removeprefix("\ufeff").lstrip()[:1] or None
            self._last = stripped[-1]

    def content_type(self) -> str:
        """The sniffed type (call after the last chunk)."""
        for magic, kind in _MAGIC:
            if self._head.startswith(magic):
                return kind
        if self._seen == 0 or not self._text:
            return OCTET_STREAM
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return OCTET_STREAM
        if (self._first, self._last) in (("{", "}"), ("[", "]")):
            return "application/json"
        return "text/plain; charset=utf-8"


@dataclass(slots=True)
class StagedBlob:
    """Bytes written to a temporary place, not yet under a key."""

    token: str
    size: int
    sha256: str
    content_type: str
    finished: bool = field(default=False)


class BlobStore(Protocol):
    """What the domain layer needs from a blob store."""

    async def stage(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StagedBlob:
        """Stream ``chunks`` to a temporary place; 413 (and nothing left behind) above ``max_bytes``."""
        ...

    async def commit(self, staged: StagedBlob, key: str) -> None:
        """Move staged bytes under ``key`` atomically."""
        ...

    async def discard(self, staged: StagedBlob) -> None:
        """Forget staged bytes that will not be committed."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The bytes under ``key``, in chunks (FileNotFoundError when absent)."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether bytes are stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the bytes under ``key`` (no error when absent)."""
        ...

    def delete_now(self, key: str) -> None:
        """:meth:`delete`, callable from synchronous code (transaction hooks)."""
        ...


class LocalBlobStore:
    """Blobs as files in one directory: ``<root>/<key>``; staging files ``<root>/.tmp-*``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are our own ids; never a path from outside
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key

    def _staging(self, token: str) -> Path:
        return self.root / f".tmp-{token}"

    async def stage(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StagedBlob:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        path = self._staging(token)
        digest = hashlib.sha256()
        sniffer = Sniffer()
        size = 0
        handle = await asyncio.to_thread(open, path, "xb")
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"the file is larger than the limit of {max_bytes} bytes", field="file"
                    )
                digest.update(chunk)
                sniffer.feed(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        handle.close()
        return StagedBlob(token, size, digest.hexdigest(), sniffer.content_type())

    async def commit(self, staged: StagedBlob, key: str) -> None:
        await asyncio.to_thread(os.replace, self._staging(staged.token), self._path(key))
        staged.finished = True

    async def discard(self, staged: StagedBlob) -> None:
        if not staged.finished:
            await asyncio.to_thread(self._staging(staged.token).unlink, missing_ok=True)
            staged.finished = True

    async def open(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.delete_now, key)

    def delete_now(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


def blob_store_of(extras: dict[str, object]) -> BlobStore:
    """The blob store the transport put in the request context."""
    store = extras.get("blob_store")
    if store is None:
        raise RuntimeError("no blob store configured for this request")
    return store  # type: ignore[return-value]


def remove_on_rollback(session: AsyncSession, store: BlobStore, key: str) -> None:
    """If the transaction that recorded ``key`` rolls back, remove its bytes (no orphan file).

    Only a rollback of the whole transaction counts: a GraphQL document runs each mutation
    in a savepoint, and a later mutation's savepoint rolling back keeps this one's row.
    Once the transaction commits, the hook is disarmed.
    """
    armed = True

    def on_commit(_session: Session) -> None:
        nonlocal armed
        armed = False

    def on_rollback(_session: Session, previous: SessionTransaction) -> None:
        if armed and not previous.nested and previous.parent is None:
            store.delete_now(key)

    sa.event.listen(session.sync_session, "after_commit", on_commit, once=True)
    sa.event.listen(session.sync_session, "after_soft_rollback", on_rollback)
