"""Mapping of raw provider JSON into records: normalisation and malformed-record skipping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from providers.base import make_provider
from providers.fake_testing import FAST_POLICY as TEST_POLICY
from providers.fake_testing import RunningFake, VirtualSleep
from providers.freshdesk import FreshdeskClient
from providers.freshdesk_mapping import map_freshdesk_company, map_freshdesk_contact
from providers.normalize import normalize_email, normalize_phone, parse_timestamp
from providers.records import ProviderCompany, ProviderContact, SkippedRecord
from providers.zendesk_mapping import map_zendesk_organization, map_zendesk_user

GOOD: dict[str, Any] = {
    "id": 42,
    "name": "Ada Lovelace",
    "email": "  Ada@Example.ORG ",
    "phone": "+44 20 7946 0958",
    "mobile": None,
    "company_id": 7,
    "tags": ["vip", "vip", " beta "],
    "other_companies": [4, 9],
    "custom_fields": {"tier": "gold"},
    "updated_at": "2015-08-18T16:18:14Z",
}


def test_freshdesk_contact_maps_and_normalises() -> None:
    item = map_freshdesk_contact(GOOD)
    assert item == ProviderContact(
        external_id="42",
        name="Ada Lovelace",
        email="ada@example.org",
        phone="+442079460958",
        company_external_id="7",
        tags=["vip", "beta"],
        updated_at=datetime(2015, 8, 18, 16, 18, 14, tzinfo=UTC),
        deleted=False,
        blocked=False,
    )


@pytest.mark.parametrize(
    ("patch", "field", "expected"),
    [
        ({"phone": "12345", "mobile": "+1 (415) 253-0123"}, "phone", "+14152530123"),
        ({"phone": "call me", "mobile": None}, "phone", None),
        ({"phone": "0044 20 7946 0958"}, "phone", "+442079460958"),
        ({"email": "not-an-email"}, "email", None),
        ({"email": None}, "email", None),
        (
            {"updated_at": "2014-01-08T09:08:53+05:30"},
            "updated_at",
            datetime(2014, 1, 8, 3, 38, 53, tzinfo=UTC),
        ),
        (
            {"other_companies": [{"company_id": 4, "view_all_tickets": True}]},
            "company_external_id",
            "7",
        ),
        ({"custom_fields": ["odd", 1]}, "name", "Ada Lovelace"),
        ({"company_id": None}, "company_external_id", None),
        ({"id": "42"}, "external_id", "42"),
    ],
)
def test_freshdesk_contact_field_variants(patch: dict[str, Any], field: str, expected: Any) -> None:
    item = map_freshdesk_contact({**GOOD, **patch})
    assert isinstance(item, ProviderContact)
    assert getattr(item, field) == expected


@pytest.mark.parametrize(
    ("patch", "reason", "ext_id"),
    [
        ({"id": None}, "missing id", None),
        ({"id": True}, "id has wrong type", None),
        ({"id": [1]}, "id has wrong type", None),
        ({"name": None, "email": None}, "no name and no email", "42"),
        ({"name": "  ", "email": "broken@"}, "no name and no email", "42"),
        ({"updated_at": "yesterday"}, "bad updated_at", "42"),
        ({"updated_at": "2015-08-18T16:18:14"}, "bad updated_at: no timezone", "42"),
        ({"updated_at": None}, "bad updated_at", "42"),
        ({"name": 5}, "name has wrong type", "42"),
        ({"email": ["a@b.io"]}, "email has wrong type", "42"),
        ({"tags": "vip"}, "tags has wrong type", "42"),
        ({"company_id": {"id": 1}}, "company_id has wrong type", "42"),
    ],
)
def test_malformed_freshdesk_contacts_are_skipped(
    patch: dict[str, Any], reason: str, ext_id: str | None
) -> None:
    assert map_freshdesk_contact({**GOOD, **patch}) == SkippedRecord(ext_id, reason)


def test_non_object_record_is_skipped() -> None:
    assert map_freshdesk_contact([1, 2]) == SkippedRecord(None, "record is not an object")
    assert map_zendesk_user("x") == SkippedRecord(None, "record is not an object")


def test_deleted_contact_without_name_or_email_is_kept_as_deleted() -> None:
    item = map_freshdesk_contact({**GOOD, "name": None, "email": None}, deleted=True)
    assert isinstance(item, ProviderContact) and item.deleted and item.name == ""


def test_freshdesk_company_offsets_and_first_domain() -> None:
    item = map_freshdesk_company(
        {
            "id": 3,
            "name": "Acme",
            "domains": ["", "Acme.COM", "acme.io"],
            "updated_at": "2014-01-08T09:08:53+05:30",
        }
    )
    assert item == ProviderCompany(
        "3", "Acme", "acme.com", [], datetime(2014, 1, 8, 3, 38, 53, tzinfo=UTC), False
    )
    assert map_freshdesk_company({"id": 3, "name": None, "updated_at": "2014-01-08T09:08:53Z"}) == (
        SkippedRecord("3", "no name")
    )
    assert map_freshdesk_company(
        {"id": 3, "name": "A", "domains": "a.io", "updated_at": "2014-01-08T09:08:53Z"}
    ) == (SkippedRecord("3", "domains has wrong type"))


def test_zendesk_user_roles_and_deletion() -> None:
    base = {
        "id": 9,
        "name": "Bo",
        "email": "BO@x.io",
        "role": "end-user",
        "updated_at": "2024-03-01T10:00:00Z",
        "active": True,
    }
    assert map_zendesk_user({**base, "role": "agent"}) == SkippedRecord("9", "role agent")
    assert map_zendesk_user({**base, "role": None}) == SkippedRecord("9", "role missing")
    gone = map_zendesk_user(
        {**base, "name": "Permanently Deleted User", "email": None, "active": False}
    )
    assert isinstance(gone, ProviderContact) and gone.deleted and gone.email is None
    assert map_zendesk_user({**base, "active": "no"}) == SkippedRecord("9", "active has wrong type")
    org = map_zendesk_organization(
        {
            "id": 1,
            "name": "Org",
            "domain_names": ["Org.io"],
            "tags": ["a"],
            "updated_at": "2024-03-01T10:00:00Z",
            "deleted_at": "2024-03-02T10:00:00Z",
        }
    )
    assert isinstance(org, ProviderCompany) and org.deleted and org.domain == "org.io"


def test_normalisers() -> None:
    assert normalize_email(" José@Example.com ") == "josé@example.com"
    assert normalize_email("a@b.test") is None
    assert normalize_email("a..b@x.io") is None
    assert normalize_phone("415 253 0123") is None
    assert normalize_phone("415 253 0123", "US") == "+14152530123"
    assert parse_timestamp("2024-01-01T00:00:00-08:00") == datetime(2024, 1, 1, 8, tzinfo=UTC)


@pytest.mark.asyncio
async def test_malformed_records_over_http_are_skipped_not_fatal(
    start_fake: Callable[..., RunningFake], vsleep: VirtualSleep
) -> None:
    fake = start_fake("freshdesk")
    store = fake.store
    store.create_contact(
        {"name": "Good One", "email": "good@acme-corp.io", "updated_at": 1_500_000_000}, admin=True
    )
    store.create_contact(
        {"raw": {"name": "No Id", "updated_at": "2015-08-18T16:18:14Z"}}, admin=True
    )
    store.create_contact(
        {"raw": {"id": 900, "name": None, "email": None, "updated_at": "2015-08-18T16:18:14Z"}},
        admin=True,
    )
    store.create_contact(
        {"raw": {"id": 901, "name": "Bad Time", "updated_at": "18/08/2015"}, "updated_at": 1},
        admin=True,
    )
    store.create_contact(
        {
            "raw": {
                "id": 902,
                "name": "Odd Fields",
                "email": "odd@acme-corp.io",
                "custom_fields": "??",
                "other_companies": [{"company_id": 3}],
                "updated_at": "2015-08-18T16:18:14+05:30",
            }
        },
        admin=True,
    )
    store.create_contact(
        {
            "raw": {
                "id": 903,
                "name": "Ints",
                "other_companies": [4, 9],
                "updated_at": "2015-08-18T16:18:14Z",
            }
        },
        admin=True,
    )
    client = make_provider(fake.config(), policy=TEST_POLICY, sleep=vsleep)
    assert isinstance(client, FreshdeskClient)
    items = [i async for p in client.iter_contact_records(None, include_deleted=False) for i in p]
    await client.aclose()
    skipped = sorted((s.external_id or "", s.reason) for s in items if isinstance(s, SkippedRecord))
    assert skipped == [
        ("", "missing id"),
        ("900", "no name and no email"),
        ("901", "bad updated_at"),
    ]
    names = sorted(c.name for c in items if isinstance(c, ProviderContact))
    assert names == ["Good One", "Ints", "Odd Fields"]
    assert client.contact_stats.skipped == 3
    assert client.contact_stats.skip_reasons["missing id"] == 1
