"""Erasure: deleting a contact leaves nothing of the person in any table or in the blob store;
and what a rolled-back transaction does to the bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_gateway.settings import Settings
from db.queries import keys as key_q
from db.uow import UnitOfWork
from resolvers import attachments, contacts
from resolvers.blobstore import LocalBlobStore
from resolvers.context import Principal, RequestContext
from resolvers.scopes import ALL_SCOPES
from tests.activity.conftest import PNG, blob_dir, blob_files, make_activity, upload
from tests.conftest import Api
from tests.rest._support import make_contact

#: The events outbox (issue 8): a ``contact.deleted`` event carries the bare id by design, and
#: issue 8 promises nothing of an erased contact beyond it. Checked on its own below.
OUTBOX = ("event_outbox", "webhook_delivery")


async def _table_rows(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, as text."""

    def names(conn: sa.Connection) -> list[str]:
        return sa.inspect(conn).get_table_names()

    rows: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in await conn.run_sync(names):
            if table.startswith(("contact_fts", "company_fts")):
                continue  # FTS5 shadow tables: checked through MATCH below
            result = await conn.execute(sa.text(f'SELECT * FROM "{table}"'))
            rows[table] = [repr(tuple(r)) for r in result]
    return rows


async def _erase_a_person(api: Api, settings: Settings) -> dict[str, Any]:
    """A contact with a timeline and files, and a neighbour; then DELETE the contact."""
    person = {
        "name": "Zoltan Quarrington",
        "email": "zoltan.q@erase.example",
        "phone": "+33612345678",
    }
    contact = await make_contact(api, **person, tags=["vip"])
    keep = await make_contact(api, "Keep Me", email="keep@example.com")
    chat = await make_activity(api, contact["id"], subject="Zoltan's refund")
    await make_activity(api, contact["id"], type="call", duration_seconds=60)
    await make_activity(api, keep["id"])
    files = [
        (await upload(api, contact["id"], PNG + b"zq", "zoltan-passport.png", chat["id"])).json(),
        (await upload(api, contact["id"], b"Zoltan Quarrington\n", "notes.txt")).json(),
    ]
    kept_file = (await upload(api, keep["id"])).json()
    assert len(blob_files(settings)) == 3
    assert (await api.delete(f"/api/v2/contacts/{contact['id']}")).status_code == 204
    return {
        "contact": contact,
        "keep": keep,
        "files": files,
        "kept_file": kept_file,
        "needles": [
            contact["id"],
            person["name"],
            person["email"],
            person["phone"],
            "Zoltan",
            chat["id"],
            *(f["id"] for f in files),
            *(f["sha256"] for f in files),
        ],
    }


def _leftovers(
    rows: dict[str, list[str]], needles: list[str], tables: tuple[str, ...] | None = None
) -> list[tuple[str, str, str]]:
    return [
        (table, needle, row)
        for table, table_rows in rows.items()
        if (table in tables if tables is not None else table not in OUTBOX)
        for row in table_rows
        for needle in needles
        if needle in row
    ]


async def test_delete_erases_activity_attachments_and_bytes(
    api: Api, engine: AsyncEngine, settings: Settings, dialect: str
) -> None:
    erased = await _erase_a_person(api, settings)
    rows = await _table_rows(engine)
    assert {"activity", "attachment", "contact", "contact_tag"} <= set(rows)
    assert _leftovers(rows, erased["needles"]) == []
    if dialect == "sqlite":
        async with engine.connect() as conn:
            hits = await conn.execute(
                sa.text("SELECT count(*) FROM contact_fts WHERE contact_fts MATCH '\"Zoltan\"'")
            )
            assert hits.scalar() == 0
    # The blob directory holds only the other contact's file (no staging leftovers).
    assert [p.name for p in blob_dir(settings).iterdir()] == [erased["kept_file"]["id"]]
    for f in erased["files"]:
        assert (await api.get(f["download_url"])).status_code == 404
    assert (await api.get(erased["kept_file"]["download_url"])).content == PNG
    keep_id, gone_id = erased["keep"]["id"], erased["contact"]["id"]
    assert (await api.get(f"/api/v2/contacts/{keep_id}/activity")).json()["total"] == 1
    assert (await api.get(f"/api/v2/contacts/{gone_id}/activity")).status_code == 404


async def test_the_event_outbox_keeps_nothing_but_the_id(
    api: Api, engine: AsyncEngine, settings: Settings
) -> None:
    erased = await _erase_a_person(api, settings)
    rows = await _table_rows(engine)
    needles = [n for n in erased["needles"] if n != erased["contact"]["id"]]
    assert _leftovers(rows, needles, OUTBOX) == []


async def _context(engine: AsyncEngine, settings: Settings) -> tuple[UnitOfWork, RequestContext]:
    uow = UnitOfWork(engine)
    account_id = await key_q.account_id_by_name(await uow.reader(), name="acme")
    assert account_id is not None
    await uow.rollback()
    ctx = RequestContext(
        uow=uow,
        principal=Principal(account_id, "test", "test", frozenset(ALL_SCOPES)),
        extras={"blob_store": LocalBlobStore(blob_dir(settings)), "max_upload_bytes": 10_000},
    )
    return uow, ctx


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data[:10]
    yield data[10:]


async def test_an_upload_whose_transaction_rolls_back_leaves_no_bytes(
    api: Api, engine: AsyncEngine, settings: Settings
) -> None:
    contact = await make_contact(api)
    uow, ctx = await _context(engine, settings)
    try:
        record = await attachments.upload_attachment(
            ctx, contact_id=contact["id"], filename="a.png", content=_chunks(PNG)
        )
        assert [p.name for p in blob_files(settings)] == [record.id]  # in place before commit
        await uow.rollback()
    finally:
        await uow.close()
    assert blob_files(settings) == []
    assert (await api.get(f"/api/v2/contacts/{contact['id']}/attachments")).json()["total"] == 0


async def test_an_erasure_that_rolls_back_keeps_rows_but_not_bytes(
    api: Api, engine: AsyncEngine, settings: Settings
) -> None:
    """The documented choice: bytes go once the row deletes are flushed, even if the
    transaction then fails; the surviving rows answer 404 for their content and a repeated
    DELETE completes the erasure."""
    contact = await make_contact(api)
    stored: dict[str, Any] = (await upload(api, contact["id"])).json()
    uow, ctx = await _context(engine, settings)
    try:
        await contacts.delete_contact(ctx, contact_id=contact["id"])
        await uow.rollback()
    finally:
        await uow.close()
    assert blob_files(settings) == []
    assert (await api.get(f"/api/v2/contacts/{contact['id']}")).status_code == 200
    response = await api.get(stored["download_url"])
    assert response.status_code == 404 and "no longer stored" in response.json()["detail"]
    assert (await api.delete(f"/api/v2/contacts/{contact['id']}")).status_code == 204
    assert (await api.get(f"/api/v2/contacts/{contact['id']}/attachments")).status_code == 404


async def test_idempotent_replays_keep_nothing_of_an_erased_person(
    api: Api, engine: AsyncEngine
) -> None:
    created = await api.post(
        "/api/v2/contacts",
        json={"name": "Replay Erased", "email": "replay.erased@example.com"},
        headers={"Idempotency-Key": "erase-me"},
    )
    assert created.status_code == 201
    assert (await api.delete(f"/api/v2/contacts/{created.json()['id']}")).status_code == 204
    rows = await _table_rows(engine)
    assert (
        _leftovers(rows, ["replay.erased@example.com", "Replay Erased"], ("idempotency_record",))
        == []
    )
