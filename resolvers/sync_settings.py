"""Sync settings use cases: read and update the schedule and the provider (secrets encrypted).

Provider secrets (``api_key``, ``api_token``) are encrypted at rest with Fernet under a server
key (setting ``CONTACTS_GATEWAY_SECRET_KEY``, else a key generated once into
``data_dir/secret.key``). They are never returned by the API and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import Field

from db.queries import sync as q
from db.queries.sync import SyncSettingsRecord
from db.types import utcnow
from providers.base import make_provider
from resolvers.context import RequestContext
from resolvers.errors import Conflict, DomainError, FieldError, ValidationFailed
from resolvers.scopes import CONFIG_READ, CONFIG_WRITE
from resolvers.validation import _Input, parse, provided

DEFAULT_INTERVAL_HOURS = 24
SECRET_FIELDS = ("api_key", "api_token")
PROVIDER_FIELDS: dict[str, tuple[str, ...]] = {
    "freshdesk": ("type", "domain", "api_key", "base_url"),
    "zendesk": ("type", "subdomain", "email", "api_token", "base_url"),
}
KEY_FILE = "secret.key"


class SyncSettingsInput(_Input):
    """Body of ``PUT /api/v1/contacts/settings``: every field optional (a partial update)."""

    auto_sync_enabled: bool | None = None
    sync_interval_hours: Annotated[int, Field(ge=1, le=168)] | None = None
    provider: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SyncSettingsView:
    """What the API shows of an account's sync settings: never a secret."""

    auto_sync_enabled: bool
    sync_interval_hours: int
    last_synced_at: datetime | None
    next_due_at: datetime | None
    provider: dict[str, Any] | None


# ---------------------------------------------------------------- the server key


def fernet_key_from(value: str) -> bytes:
    """A Fernet key from the setting: a Fernet key as is, any other string derived via SHA-256."""
    raw = value.strip().encode()
    try:
        Fernet(raw)
        return raw
    except (ValueError, TypeError):
        return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def resolve_secret_key(configured: str | None, data_dir: Path) -> bytes:
    """The server key: the configured one, else the one in ``data_dir/secret.key`` (made once)."""
    if configured:
        return fernet_key_from(configured)
    path = data_dir / KEY_FILE
    if path.exists():
        return fernet_key_from(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return fernet_key_from(path.read_text())
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def encrypt_config(key: bytes, config: Mapping[str, Any]) -> str:
    """Encrypt the whole provider settings (secrets included) into a Fernet token."""
    return Fernet(key).encrypt(json.dumps(dict(config)).encode()).decode()


def decrypt_config(key: bytes, token: str) -> dict[str, Any]:
    """Decrypt provider settings; a token from another server key is a 409 with a hint."""
    try:
        data = json.loads(Fernet(key).decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise Conflict(
            "the stored provider credentials cannot be decrypted with this server's"
            " CONTACTS_GATEWAY_SECRET_KEY; save the provider settings again",
            field="provider",
        ) from None
    if not isinstance(data, dict):
        raise Conflict("the stored provider settings are unreadable", field="provider")
    return data


# ---------------------------------------------------------------- use cases


def view_of(record: SyncSettingsRecord | None) -> SyncSettingsView:
    """The public face of a settings row (defaults when none was saved)."""
    if record is None:
        return SyncSettingsView(False, DEFAULT_INTERVAL_HOURS, None, None, None)
    provider = None
    if record.provider_type is not None:
        provider = {"type": record.provider_type, **(record.provider_public or {})}
        provider["configured"] = record.provider_secret is not None
    return SyncSettingsView(
        auto_sync_enabled=record.auto_sync_enabled,
        sync_interval_hours=record.sync_interval_hours,
        last_synced_at=record.last_synced_at,
        next_due_at=record.next_due_at if record.auto_sync_enabled else None,
        provider=provider,
    )


async def get_sync_settings(ctx: RequestContext) -> SyncSettingsView:
    """The account's sync settings (never a secret)."""
    account_id = ctx.require(CONFIG_READ)
    session = await ctx.uow.reader()
    return view_of(await q.get_settings(session, account_id=account_id))


async def update_sync_settings(
    ctx: RequestContext,
    *,
    data: SyncSettingsInput | Mapping[str, Any],
    secret_key: bytes,
    allow_private_urls: bool,
) -> SyncSettingsView:
    """Change the schedule and/or the provider; bad provider settings are a 422 naming the field."""
    account_id = ctx.require(CONFIG_WRITE)
    body = parse(SyncSettingsInput, data)
    changes = provided(body)
    for name in ("auto_sync_enabled", "sync_interval_hours"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    session = await ctx.uow.writer()
    current = await q.get_settings(session, account_id=account_id)
    values: dict[str, Any] = {}
    if "auto_sync_enabled" in changes:
        values["auto_sync_enabled"] = body.auto_sync_enabled
    if "sync_interval_hours" in changes:
        values["sync_interval_hours"] = body.sync_interval_hours
    if "provider" in changes:
        if body.provider is None:
            values.update(provider_type=None, provider_public=None, provider_secret=None)
        else:
            stored = None
            if current is not None and current.provider_secret is not None:
                try:
                    stored = decrypt_config(secret_key, current.provider_secret)
                except Conflict:
                    stored = None  # stored under another server key: the new settings replace it
            config = await _checked_provider(body.provider, stored, allow_private_urls)
            values.update(
                provider_type=config["type"],
                provider_public={
                    k: v for k, v in config.items() if k not in SECRET_FIELDS and k != "type"
                },
                provider_secret=encrypt_config(secret_key, config),
            )
    now = utcnow()
    enabled = values.get("auto_sync_enabled", current.auto_sync_enabled if current else False)
    interval = values.get(
        "sync_interval_hours", current.sync_interval_hours if current else DEFAULT_INTERVAL_HOURS
    )
    last = current.last_synced_at if current else None
    values["next_due_at"] = (last + timedelta(hours=interval) if last else now) if enabled else None
    await q.save_settings(session, account_id=account_id, values=values, now=now)
    return view_of(await q.get_settings(session, account_id=account_id))


async def _checked_provider(
    raw: Mapping[str, Any], stored: Mapping[str, Any] | None, allow_private_urls: bool
) -> dict[str, Any]:
    """Validate provider settings with the providers' own factory and SSRF guard.

    A secret left out keeps the stored one when the provider type is unchanged (GET never
    shows it, so a client cannot send it back).
    """
    kind = raw.get("type")
    if kind not in PROVIDER_FIELDS:
        raise ValidationFailed(
            f"provider.type must be one of {', '.join(PROVIDER_FIELDS)}", field="provider.type"
        )
    unknown = sorted(set(raw) - set(PROVIDER_FIELDS[kind]))
    if unknown:
        raise ValidationFailed(
            "unknown field",
            errors=[FieldError(f"provider.{name}", "unknown field") for name in unknown],
        )
    config: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}
    for name in PROVIDER_FIELDS[kind]:
        if name in config and not isinstance(config[name], str):
            raise ValidationFailed(f"provider.{name} must be a string", field=f"provider.{name}")
    if stored is not None and stored.get("type") == kind:
        for secret in SECRET_FIELDS:
            if secret in PROVIDER_FIELDS[kind] and secret not in config and secret in stored:
                config[secret] = stored[secret]
    for name in ("domain", "subdomain"):
        if name in config:
            config[name] = config[name].strip().lower()
    try:
        client = make_provider(config, allow_private=allow_private_urls)
    except DomainError as exc:
        raise _provider_field_error(exc) from None
    await client.aclose()
    return config


def _provider_field_error(exc: DomainError) -> DomainError:
    """Name fields under ``provider.`` (the guard says ``base_url``)."""
    if not isinstance(exc, ValidationFailed):
        return exc
    errors = [
        FieldError(e.field if e.field.startswith("provider.") else f"provider.{e.field}", e.message)
        for e in exc.errors
    ] or [FieldError("provider", exc.message)]
    return ValidationFailed(f"{errors[0].field}: {errors[0].message}", errors=errors)
