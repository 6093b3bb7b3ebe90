"""SQL for sync: settings, runs, the per-account lease, and the bulk writes of a sync run.

Everything takes ``account_id`` except :func:`due_account_ids` and :func:`account_id_by_name`,
which the scheduler and the CLI use to find the accounts to work on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, Company, CompanyTag, Contact, ContactTag, table_of
from db.models_sync import SyncLease, SyncRun, SyncSettings
from db.queries.common import dialect_of

settings_t = table_of(SyncSettings)
run_t = table_of(SyncRun)
lease_t = table_of(SyncLease)
contact = table_of(Contact)
contact_tag = table_of(ContactTag)
company = table_of(Company)
company_tag = table_of(CompanyTag)
account = table_of(Account)


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class SyncSettingsRecord:
    """An account's sync settings; ``provider_secret`` is the encrypted token, never shown."""

    account_id: str
    auto_sync_enabled: bool
    sync_interval_hours: int
    provider_type: str | None
    provider_public: dict[str, Any] | None
    provider_secret: str | None
    cursors: dict[str, Any]
    last_synced_at: datetime | None
    next_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class SyncRunRecord:
    """One sync run as the API shows it."""

    id: str
    provider: str
    mode: str
    trigger: str
    status: str
    created: int
    updated: int
    skipped: int
    deleted: int
    failed: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    details: dict[str, Any]


@dataclass(slots=True)
class LinkedContact:
    """The synced columns of a local contact, for matching and change detection."""

    id: str
    external_id: str | None
    name: str
    email: str | None
    email_norm: str | None
    phone: str | None
    company_id: str | None
    tags: list[str]
    external_updated_at: datetime | None
    deleted_at: datetime | None


@dataclass(slots=True)
class LinkedCompany:
    """The synced columns of a local company."""

    id: str
    external_id: str | None
    name: str
    domain: str | None
    tags: list[str]
    deleted_at: datetime | None


# ---------------------------------------------------------------- settings

_SETTINGS_COLUMNS = (
    settings_t.c.account_id,
    settings_t.c.auto_sync_enabled,
    settings_t.c.sync_interval_hours,
    settings_t.c.provider_type,
    settings_t.c.provider_public,
    settings_t.c.provider_secret,
    settings_t.c.cursors,
    settings_t.c.last_synced_at,
    settings_t.c.next_due_at,
)


def _settings_record(row: sa.Row[Any]) -> SyncSettingsRecord:
    return SyncSettingsRecord(
        account_id=row.account_id,
        auto_sync_enabled=bool(row.auto_sync_enabled),
        sync_interval_hours=int(row.sync_interval_hours),
        provider_type=row.provider_type,
        provider_public=row.provider_public,
        provider_secret=row.provider_secret,
        cursors=dict(row.cursors or {}),
        last_synced_at=row.last_synced_at,
        next_due_at=row.next_due_at,
    )


async def get_settings(session: AsyncSession, *, account_id: str) -> SyncSettingsRecord | None:
    """The account's sync settings row, or None when never saved."""
    row = (
        await session.execute(
            sa.select(*_SETTINGS_COLUMNS).where(settings_t.c.account_id == account_id)
        )
    ).first()
    return _settings_record(row) if row else None


async def save_settings(
    session: AsyncSession, *, account_id: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Insert or update the account's settings row with ``values``."""
    exists = await session.scalar(
        sa.select(settings_t.c.account_id).where(settings_t.c.account_id == account_id)
    )
    if exists is None:
        row: dict[str, Any] = {
            "auto_sync_enabled": False,
            "sync_interval_hours": 24,
            "cursors": {},
            **values,
        }
        await session.execute(
            sa.insert(settings_t).values(
                account_id=account_id, created_at=now, updated_at=now, **row
            )
        )
    else:
        await session.execute(
            sa.update(settings_t)
            .where(settings_t.c.account_id == account_id)
            .values(**values, updated_at=now)
        )


async def record_success(
    session: AsyncSession,
    *,
    account_id: str,
    provider: str,
    cursors: Mapping[str, str] | None,
    now: datetime,
) -> None:
    """After a successful run: store the provider's new cursors and ``last_synced_at``."""
    current = await get_settings(session, account_id=account_id)
    if current is None:
        return
    values: dict[str, Any] = {"last_synced_at": now, "updated_at": now}
    if cursors is not None:
        values["cursors"] = {**current.cursors, provider: dict(cursors)}
    await session.execute(
        sa.update(settings_t).where(settings_t.c.account_id == account_id).values(**values)
    )


async def claim_due(
    session: AsyncSession, *, account_id: str, now: datetime, next_due_at: datetime
) -> bool:
    """Atomically move a due account's ``next_due_at`` forward; True for the one claimer."""
    result = await session.execute(
        sa.update(settings_t)
        .where(
            settings_t.c.account_id == account_id,
            settings_t.c.auto_sync_enabled.is_(True),
            settings_t.c.provider_type.is_not(None),
            settings_t.c.next_due_at <= now,
        )
        .values(next_due_at=next_due_at)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def due_account_ids(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[str]:
    """Accounts (of every tenant: the scheduler's view) whose auto-sync is due."""
    stmt = (
        sa.select(settings_t.c.account_id, settings_t.c.sync_interval_hours)
        .where(
            settings_t.c.auto_sync_enabled.is_(True),
            settings_t.c.provider_type.is_not(None),
            settings_t.c.next_due_at <= now,
        )
        .order_by(settings_t.c.next_due_at)
        .limit(limit)
    )
    return [row.account_id for row in (await session.execute(stmt)).all()]


async def account_id_by_name(session: AsyncSession, *, name: str) -> str | None:
    """The id of the account called ``name`` (CLI look-up)."""
    return await session.scalar(sa.select(account.c.id).where(account.c.name == name))


# ---------------------------------------------------------------- runs

_RUN_COLUMNS = (
    run_t.c.id,
    run_t.c.provider,
    run_t.c.mode,
    run_t.c.trigger,
    run_t.c.status,
    run_t.c.created,
    run_t.c.updated,
    run_t.c.skipped,
    run_t.c.deleted,
    run_t.c.failed,
    run_t.c.started_at,
    run_t.c.finished_at,
    run_t.c.error,
    run_t.c.details,
)


def _run_record(row: sa.Row[Any]) -> SyncRunRecord:
    values = row._asdict()
    values["details"] = dict(values["details"] or {})
    return SyncRunRecord(**values)


async def insert_run(session: AsyncSession, *, account_id: str, values: Mapping[str, Any]) -> None:
    """Write a new run row."""
    await session.execute(sa.insert(run_t).values(account_id=account_id, **values))


async def finish_run(
    session: AsyncSession, *, account_id: str, run_id: str, values: Mapping[str, Any]
) -> None:
    """Write a run's final status, counts and details."""
    await session.execute(
        sa.update(run_t)
        .where(run_t.c.account_id == account_id, run_t.c.id == run_id)
        .values(**values)
    )


async def fail_running_runs(
    session: AsyncSession, *, account_id: str, now: datetime, error: str
) -> int:
    """Mark runs left ``running`` by a process that died as failed (caller holds the lease)."""
    result = await session.execute(
        sa.update(run_t)
        .where(run_t.c.account_id == account_id, run_t.c.status == "running")
        .values(status="failed", finished_at=now, error=error)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def get_run(session: AsyncSession, *, account_id: str, run_id: str) -> SyncRunRecord | None:
    """One run of the account, or None."""
    row = (
        await session.execute(
            sa.select(*_RUN_COLUMNS).where(run_t.c.account_id == account_id, run_t.c.id == run_id)
        )
    ).first()
    return _run_record(row) if row else None


async def list_runs(
    session: AsyncSession, *, account_id: str, limit: int, offset: int = 0
) -> list[SyncRunRecord]:
    """The account's runs, newest first."""
    stmt = (
        sa.select(*_RUN_COLUMNS)
        .where(run_t.c.account_id == account_id)
        .order_by(run_t.c.started_at.desc(), run_t.c.id.desc())
        .limit(limit)
        .offset(offset or None)
    )
    return [_run_record(r) for r in (await session.execute(stmt)).all()]


async def count_runs(session: AsyncSession, *, account_id: str) -> int:
    """How many runs the account has."""
    stmt = sa.select(sa.func.count()).select_from(run_t).where(run_t.c.account_id == account_id)
    return int(await session.scalar(stmt) or 0)


# ---------------------------------------------------------------- lease


async def acquire_lease(
    session: AsyncSession,
    *,
    account_id: str,
    holder: str,
    now: datetime,
    expires_at: datetime,
) -> bool:
    """Take the account's lease unless someone holds an unexpired one; True when ours."""
    values = {
        "account_id": account_id,
        "holder": holder,
        "run_id": None,
        "acquired_at": now,
        "expires_at": expires_at,
    }
    insert: Any = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    stmt = insert(lease_t).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[lease_t.c.account_id],
        set_={"holder": holder, "run_id": None, "acquired_at": now, "expires_at": expires_at},
        where=lease_t.c.expires_at < now,
    )
    await session.execute(stmt)
    current = await session.scalar(
        sa.select(lease_t.c.holder).where(lease_t.c.account_id == account_id)
    )
    return bool(current == holder)


async def renew_lease(
    session: AsyncSession, *, account_id: str, holder: str, expires_at: datetime, run_id: str | None
) -> bool:
    """Extend our lease; False when it is no longer ours."""
    values: dict[str, Any] = {"expires_at": expires_at}
    if run_id is not None:
        values["run_id"] = run_id
    result = await session.execute(
        sa.update(lease_t)
        .where(lease_t.c.account_id == account_id, lease_t.c.holder == holder)
        .values(**values)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, *, account_id: str, holder: str) -> None:
    """Give our lease back."""
    await session.execute(
        sa.delete(lease_t).where(lease_t.c.account_id == account_id, lease_t.c.holder == holder)
    )


# ---------------------------------------------------------------- contacts

_LINKED_CONTACT_COLUMNS = (
    contact.c.id,
    contact.c.external_id,
    contact.c.name,
    contact.c.email,
    contact.c.email_norm,
    contact.c.phone,
    contact.c.company_id,
    contact.c.tags,
    contact.c.external_updated_at,
    contact.c.deleted_at,
)


def _linked_contact(row: sa.Row[Any]) -> LinkedContact:
    values = row._asdict()
    values["tags"] = list(values["tags"] or [])
    return LinkedContact(**values)


async def contacts_by_external_id(
    session: AsyncSession, *, account_id: str, provider: str, external_ids: Sequence[str]
) -> dict[str, LinkedContact]:
    """Contacts linked to these provider ids (tombstones too), keyed by external id."""
    if not external_ids:
        return {}
    stmt = sa.select(*_LINKED_CONTACT_COLUMNS).where(
        contact.c.account_id == account_id,
        contact.c.external_provider == provider,
        contact.c.external_id.in_(list(external_ids)),
    )
    rows = (await session.execute(stmt)).all()
    return {r.external_id: _linked_contact(r) for r in rows}


async def live_contacts_by_email(
    session: AsyncSession, *, account_id: str, email_norms: Iterable[str]
) -> dict[str, LinkedContact]:
    """Live contacts owning these normalised emails, keyed by ``email_norm``."""
    keys = list(set(email_norms))
    if not keys:
        return {}
    stmt = sa.select(*_LINKED_CONTACT_COLUMNS).where(
        contact.c.account_id == account_id,
        contact.c.email_norm.in_(keys),
        contact.c.deleted_at.is_(None),
    )
    return {r.email_norm: _linked_contact(r) for r in (await session.execute(stmt)).all()}


async def insert_contacts(
    session: AsyncSession, *, account_id: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert many contacts in one statement (their tags go through :func:`set_contact_tags`)."""
    if rows:
        await session.execute(
            sa.insert(contact), [{"account_id": account_id, **row} for row in rows]
        )


_CONTACT_SYNC_FIELDS = (
    "name",
    "email",
    "email_norm",
    "phone",
    "company_id",
    "tags",
    "external_provider",
    "external_id",
    "external_updated_at",
    "deleted_at",
    "deleted_reason",
    "updated_at",
)


async def update_contacts(
    session: AsyncSession, *, account_id: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Rewrite the synced columns of many contacts (each row: ``id`` + every synced field)."""
    if not rows:
        return
    stmt = (
        sa.update(contact)
        .where(contact.c.account_id == account_id, contact.c.id == sa.bindparam("b_id"))
        .values(
            {
                **{f: sa.bindparam(f"b_{f}") for f in _CONTACT_SYNC_FIELDS},
                "version": contact.c.version + 1,
            }
        )
    )
    params = [
        {"b_id": row["id"], **{f"b_{f}": row[f] for f in _CONTACT_SYNC_FIELDS}} for row in rows
    ]
    await session.execute(stmt, params)


async def set_contact_tags(
    session: AsyncSession, *, account_id: str, tags: Mapping[str, Sequence[str]]
) -> None:
    """Make the tag table say exactly ``tags[contact_id]`` for each given contact."""
    if not tags:
        return
    await session.execute(
        sa.delete(contact_tag).where(
            contact_tag.c.account_id == account_id, contact_tag.c.contact_id.in_(list(tags))
        )
    )
    rows = [
        {"account_id": account_id, "tag": tag, "contact_id": cid}
        for cid, values in tags.items()
        for tag in values
    ]
    if rows:
        await session.execute(sa.insert(contact_tag), rows)


async def tombstone_contacts(
    session: AsyncSession,
    *,
    account_id: str,
    reasons: Mapping[str, str],
    now: datetime,
) -> int:
    """Hide live contacts from the API (``deleted_at`` + reason); returns how many changed."""
    by_reason: dict[str, list[str]] = {}
    for contact_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(contact_id)
    changed = 0
    for reason, ids in by_reason.items():
        # One statement per reason: an executemany's rowcount is not reliable on asyncpg.
        result = await session.execute(
            sa.update(contact)
            .where(
                contact.c.account_id == account_id,
                contact.c.id.in_(ids),
                contact.c.deleted_at.is_(None),
            )
            .values(
                deleted_at=now, deleted_reason=reason, updated_at=now, version=contact.c.version + 1
            )
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return changed


async def live_linked_contacts(
    session: AsyncSession, *, account_id: str, provider: str, after_id: str, limit: int
) -> list[tuple[str, str]]:
    """(id, external id) of live contacts linked to ``provider``, by id, after ``after_id``."""
    stmt = (
        sa.select(contact.c.id, contact.c.external_id)
        .where(
            contact.c.account_id == account_id,
            contact.c.external_provider == provider,
            contact.c.external_id.is_not(None),
            contact.c.deleted_at.is_(None),
            contact.c.id > after_id,
        )
        .order_by(contact.c.id)
        .limit(limit)
    )
    return [(r.id, r.external_id) for r in (await session.execute(stmt)).all()]


async def count_live_linked_contacts(
    session: AsyncSession, *, account_id: str, provider: str
) -> int:
    """How many live contacts are linked to ``provider``."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(contact)
        .where(
            contact.c.account_id == account_id,
            contact.c.external_provider == provider,
            contact.c.external_id.is_not(None),
            contact.c.deleted_at.is_(None),
        )
    )
    return int(await session.scalar(stmt) or 0)


async def clear_company_links(
    session: AsyncSession, *, account_id: str, company_ids: Sequence[str], now: datetime
) -> int:
    """Unlink every contact (tombstones too) from these companies."""
    if not company_ids:
        return 0
    result = await session.execute(
        sa.update(contact)
        .where(contact.c.account_id == account_id, contact.c.company_id.in_(list(company_ids)))
        .values(company_id=None, updated_at=now, version=contact.c.version + 1)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- companies

_LINKED_COMPANY_COLUMNS = (
    company.c.id,
    company.c.external_id,
    company.c.name,
    company.c.domain,
    company.c.tags,
    company.c.deleted_at,
)


def _linked_company(row: sa.Row[Any]) -> LinkedCompany:
    values = row._asdict()
    values["tags"] = list(values["tags"] or [])
    return LinkedCompany(**values)


async def companies_by_external_id(
    session: AsyncSession, *, account_id: str, provider: str, external_ids: Sequence[str]
) -> dict[str, LinkedCompany]:
    """Companies linked to these provider ids (soft-deleted too), keyed by external id."""
    if not external_ids:
        return {}
    stmt = sa.select(*_LINKED_COMPANY_COLUMNS).where(
        company.c.account_id == account_id,
        company.c.external_provider == provider,
        company.c.external_id.in_(list(external_ids)),
    )
    return {r.external_id: _linked_company(r) for r in (await session.execute(stmt)).all()}


async def active_companies_by_domain(
    session: AsyncSession, *, account_id: str, domains: Iterable[str]
) -> dict[str, LinkedCompany]:
    """Active companies owning these domains, keyed by domain."""
    keys = list(set(domains))
    if not keys:
        return {}
    stmt = sa.select(*_LINKED_COMPANY_COLUMNS).where(
        company.c.account_id == account_id,
        company.c.domain.in_(keys),
        company.c.deleted_at.is_(None),
    )
    return {r.domain: _linked_company(r) for r in (await session.execute(stmt)).all()}


async def active_company_ids_by_external(
    session: AsyncSession, *, account_id: str, provider: str, external_ids: Iterable[str]
) -> dict[str, str]:
    """Local ids of active companies linked to these provider ids."""
    keys = list(set(external_ids))
    if not keys:
        return {}
    stmt = sa.select(company.c.external_id, company.c.id).where(
        company.c.account_id == account_id,
        company.c.external_provider == provider,
        company.c.external_id.in_(keys),
        company.c.deleted_at.is_(None),
    )
    return {r.external_id: r.id for r in (await session.execute(stmt)).all()}


async def live_linked_companies(
    session: AsyncSession, *, account_id: str, provider: str, after_id: str, limit: int
) -> list[tuple[str, str]]:
    """(id, external id) of active companies linked to ``provider``, by id, after ``after_id``."""
    stmt = (
        sa.select(company.c.id, company.c.external_id)
        .where(
            company.c.account_id == account_id,
            company.c.external_provider == provider,
            company.c.external_id.is_not(None),
            company.c.deleted_at.is_(None),
            company.c.id > after_id,
        )
        .order_by(company.c.id)
        .limit(limit)
    )
    return [(r.id, r.external_id) for r in (await session.execute(stmt)).all()]


async def soft_delete_companies(
    session: AsyncSession, *, account_id: str, company_ids: Sequence[str], now: datetime
) -> int:
    """Soft-delete active companies (deleted upstream)."""
    if not company_ids:
        return 0
    result = await session.execute(
        sa.update(company)
        .where(
            company.c.account_id == account_id,
            company.c.id.in_(list(company_ids)),
            company.c.deleted_at.is_(None),
        )
        .values(deleted_at=now, updated_at=now, version=company.c.version + 1)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
