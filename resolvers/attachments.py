"""Attachment use cases: upload (streamed), list, download, and erasure with the contact.

An upload is two steps so that a transport can stream the body straight into the store:
:func:`stage_upload` checks what it can, then streams the bytes to a staging file (hashing,
sniffing and size-checking on the way); :func:`finish_upload` checks the rest, records the row
and moves the bytes under the attachment id. A staged file that is not finished is removed;
if the transaction that recorded a row rolls back, the row's bytes are removed too.

Erasure order (contact DELETE): the rows go first, then, once those deletes are flushed, the
bytes. If the transaction then rolls back, the rows come back but their bytes are gone: we
prefer a dangling row (its download answers 404, and repeating the DELETE completes the
erasure) to personal data left on disk with no row pointing at it, which nothing would ever
find again. Deleting the bytes only after the commit would risk exactly that on a crash.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.queries import activity as activity_q
from db.queries import attachments as q
from db.queries import contacts as contact_q
from db.queries.attachments import AttachmentRecord
from db.types import utcnow
from resolvers.blobstore import BlobStore, StagedBlob, blob_store_of, remove_on_rollback
from resolvers.context import RequestContext
from resolvers.errors import NotFound, ValidationFailed
from resolvers.pagination import PageRequest
from resolvers.scopes import CONTACTS_READ, CONTACTS_WRITE

DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_FILENAME = 255
_MAX_EXTENSION = 16


def max_upload_bytes(ctx: RequestContext) -> int:
    """The configured size limit of one file."""
    return int(ctx.extras.get("max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES))


def download_url(attachment_id: str) -> str:
    """Where the bytes of an attachment are downloaded."""
    return f"/api/v2/attachments/{attachment_id}/content"


def sanitize_filename(raw: str | None) -> str:
    """A safe display name: no directories, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split()).lstrip(".").strip()
    if not name:
        return "attachment"
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= _MAX_EXTENSION:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


async def _contact_exists(session: AsyncSession, account_id: str, contact_id: str) -> None:
    if await contact_q.get_contact(session, account_id=account_id, contact_id=contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")


async def _check_activity(
    session: AsyncSession, account_id: str, contact_id: str, activity_id: str | None
) -> None:
    if activity_id is None:
        return
    item = await activity_q.get_activity(session, account_id=account_id, activity_id=activity_id)
    if item is None or item.contact_id != contact_id:
        raise ValidationFailed(
            f"activity_id must name an activity item of contact {contact_id}", field="activity_id"
        )
    if item.type != "conversation":
        raise ValidationFailed(
            f"files attach to conversations; {activity_id} is a {item.type}", field="activity_id"
        )


def _activity_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 40:
        raise ValidationFailed("activity_id is not an activity id", field="activity_id")
    return value


async def stage_upload(
    ctx: RequestContext,
    *,
    contact_id: str,
    content: AsyncIterable[bytes],
    activity_id: str | None = None,
) -> StagedBlob:
    """Check the caller, the contact (and ``activity_id`` if known), then stream the bytes in."""
    account_id = ctx.require(CONTACTS_WRITE)
    activity_id = _activity_id(activity_id)
    store = blob_store_of(ctx.extras)
    if ctx.uow.started:
        # The unit of work already began (a GraphQL document, a script): check inside it,
        # so a contact created earlier in the same transaction is seen.
        session = await ctx.uow.reader()
        await _contact_exists(session, account_id, contact_id)
        await _check_activity(session, account_id, contact_id, activity_id)
    else:
        # A short session of its own: the upload may stream for a while, and holding the
        # request's connection (and its snapshot) all that time would starve the pool.
        async with AsyncSession(ctx.uow.engine) as short:
            try:
                await _contact_exists(short, account_id, contact_id)
                await _check_activity(short, account_id, contact_id, activity_id)
            finally:
                await short.rollback()
    return await store.stage(content, max_bytes=max_upload_bytes(ctx))


async def finish_upload(
    ctx: RequestContext,
    *,
    contact_id: str,
    staged: StagedBlob,
    filename: str | None,
    activity_id: str | None = None,
) -> AttachmentRecord:
    """Record the staged bytes as an attachment of the contact (the staged file is always consumed)."""
    store = blob_store_of(ctx.extras)
    try:
        account_id = ctx.require(CONTACTS_WRITE)
        activity_id = _activity_id(activity_id)
        if staged.size == 0:
            raise ValidationFailed("the file is empty", field="file")
        session = await ctx.uow.writer()
        if (
            await contact_q.lock_contact(session, account_id=account_id, contact_id=contact_id)
            is None
        ):
            raise NotFound(f"contact {contact_id} not found")
        await _check_activity(session, account_id, contact_id, activity_id)
        attachment_id = new_id("att")
        await q.insert_attachment(
            session,
            account_id=account_id,
            values={
                "id": attachment_id,
                "contact_id": contact_id,
                "activity_id": activity_id,
                "filename": sanitize_filename(filename),
                "content_type": staged.content_type,
                "size": staged.size,
                "sha256": staged.sha256,
                "created_at": utcnow(),
            },
        )
        record = await q.get_attachment(session, account_id=account_id, attachment_id=attachment_id)
        assert record is not None
        await store.commit(staged, attachment_id)
        remove_on_rollback(session, store, attachment_id)
        return record
    finally:
        await store.discard(staged)


async def upload_attachment(
    ctx: RequestContext,
    *,
    contact_id: str,
    filename: str | None,
    content: AsyncIterable[bytes],
    activity_id: str | None = None,
) -> AttachmentRecord:
    """Stage and finish in one call (when every form field is known before the file)."""
    staged = await stage_upload(
        ctx, contact_id=contact_id, content=content, activity_id=activity_id
    )
    return await finish_upload(
        ctx, contact_id=contact_id, staged=staged, filename=filename, activity_id=activity_id
    )


@dataclass(frozen=True, slots=True)
class AttachmentPage:
    """A page of a contact's attachments."""

    items: list[AttachmentRecord]
    total: int
    limit: int
    offset: int


async def list_attachments(
    ctx: RequestContext, *, contact_id: str, page: PageRequest
) -> AttachmentPage:
    """A contact's attachments, newest first."""
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    await _contact_exists(session, account_id, contact_id)
    items = await q.list_attachments(
        session, account_id=account_id, contact_id=contact_id, limit=page.limit, offset=page.offset
    )
    total = await q.count_attachments(session, account_id=account_id, contact_id=contact_id)
    return AttachmentPage(items=items, total=total, limit=page.limit, offset=page.offset)


async def get_attachment(ctx: RequestContext, *, attachment_id: str) -> AttachmentRecord:
    """One attachment of the account (of a live contact)."""
    account_id = ctx.require(CONTACTS_READ)
    session = await ctx.uow.reader()
    record = await q.get_attachment(session, account_id=account_id, attachment_id=attachment_id)
    if record is None or (
        await contact_q.get_contact(session, account_id=account_id, contact_id=record.contact_id)
        is None
    ):
        raise NotFound(f"attachment {attachment_id} not found")
    return record


async def open_content(
    ctx: RequestContext, *, attachment_id: str
) -> tuple[AttachmentRecord, AsyncIterator[bytes]]:
    """An attachment and its bytes, in chunks; 404 when either is missing."""
    record = await get_attachment(ctx, attachment_id=attachment_id)
    store = blob_store_of(ctx.extras)
    if not await store.exists(record.id):
        raise NotFound(f"the content of attachment {attachment_id} is no longer stored")
    return record, store.open(record.id)


async def erase_rows_of_contact(
    ctx: RequestContext, *, account_id: str, contact_id: str
) -> list[str]:
    """Delete a contact's attachment and activity rows; returns the blob keys to erase."""
    session = await ctx.uow.writer()
    keys = await q.delete_attachments_of_contact(
        session, account_id=account_id, contact_id=contact_id
    )
    await activity_q.delete_activity_of_contact(
        session, account_id=account_id, contact_id=contact_id
    )
    return keys


async def erase_blobs(ctx: RequestContext, keys: Sequence[str]) -> None:
    """Delete the bytes of erased attachments (after their rows' deletes are flushed)."""
    if not keys:
        return
    store: BlobStore = blob_store_of(ctx.extras)
    for key in keys:
        await store.delete(key)
