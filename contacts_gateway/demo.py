"""Demo data: a realistic account (about 50 companies, 500 contacts) created through the domain layer."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries import keys as key_q
from db.uow import UnitOfWork
from resolvers import activity, attachments, companies, contacts, custom_fields, keys
from resolvers.blobstore import LocalBlobStore
from resolvers.context import Principal, RequestContext
from resolvers.filters import list_filter
from resolvers.pagination import PageRequest
from resolvers.scopes import ALL_SCOPES
from resolvers.validation import normalize_phone

DEMO_ACCOUNT = "demo"

FIRST = [
    "Jane",
    "John",
    "Amelia",
    "Oliver",
    "Sofia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Chloe",
    "Mateo",
    "Zoe",
    "Hugo",
    "Lea",
    "Arthur",
    "Ines",
    "Louis",
    "Yuki",
    "Kenji",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Elena",
    "Marco",
    "Ingrid",
    "Lars",
    "Aisha",
    "Tariq",
    "Camille",
    "Julien",
    "Greta",
    "Felix",
    "Nora",
    "Tobias",
    "Maya",
    "Daniel",
]
LAST = [
    "Smith",
    "Johnson",
    "Garcia",
    "Martin",
    "Dubois",
    "Rossi",
    "Muller",
    "Schmidt",
    "Tanaka",
    "Sato",
    "Patel",
    "Khan",
    "Nguyen",
    "Silva",
    "Costa",
    "Novak",
    "Kowalski",
    "Jensen",
    "Larsen",
    "Berg",
    "Moreau",
    "Laurent",
    "Fischer",
    "Weber",
    "Ivanova",
    "Goldsmith",
    "Blacksmith",
    "Smithson",
    "Okafor",
    "Mensah",
]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Massive",
    "Dynamic",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Pied",
    "Piper",
    "Blue",
    "Sun",
    "Zenith",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Adventure",
    "Litware",
    "Proseware",
    "Alpine",
]
SUFFIXES = ("Corp", "Inc", "Ltd", "Labs", "Group", "Systems", "Partners", "GmbH", "SAS", "Co")
COMPANY_TAGS = ("enterprise", "smb", "startup", "priority", "partner", "churn-risk")
CONTACT_TAGS = (
    "vip",
    "engineering",
    "billing",
    "beta",
    "newsletter",
    "escalated",
    "trial",
    "champion",
)
PHONE_PREFIXES = ("+33612", "+44791", "+14155", "+49151", "+81901", "+34612")


def _phone(rng: random.Random) -> str:
    """A random number that phonenumbers accepts as valid (E.164)."""
    while True:
        prefix = rng.choice(PHONE_PREFIXES)
        candidate = prefix + "".join(rng.choice("0123456789") for _ in range(12 - len(prefix) + 1))
        try:
            return normalize_phone(candidate)
        except ValueError:
            continue


async def seed_demo(
    engine: AsyncEngine,
    *,
    companies_count: int = 50,
    contacts_count: int = 500,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
    blob_dir: Path,
) -> bool:
    """Create the demo account's data unless it already has contacts; True when it seeded."""
    uow = UnitOfWork(engine)
    try:
        account_id = await key_q.account_id_by_name(await uow.reader(), name=DEMO_ACCOUNT)
        assert account_id is not None, "create the demo key first"
        principal = Principal(account_id, "demo", "demo", frozenset(ALL_SCOPES))
        ctx = RequestContext(uow=uow, principal=principal, request_id="demo-seed")
        existing = await contacts.list_contacts(ctx, flt=list_filter(), page=PageRequest(limit=1))
        if existing.total:
            return False
        rng = random.Random(seed)
        # Custom fields and the timeline draw from their own generator, so adding them did
        # not change the names, emails and companies the demo has always had.
        extra = random.Random(seed + 1)
        ctx.extras.update(
            {
                "blob_store": LocalBlobStore(blob_dir),
                "max_upload_bytes": 1 << 20,
            }
        )
        for definition in CUSTOM_FIELDS:
            await custom_fields.create_definition(ctx, data=definition)
        contact_ids: list[str] = []
        company_ids: list[tuple[str, str]] = []
        used_domains: set[str] = set()
        total = companies_count + contacts_count
        while len(company_ids) < companies_count:
            base = rng.choice(COMPANY_WORDS)
            name = f"{base} {rng.choice(SUFFIXES)}"
            domain = f"{base.lower()}{len(company_ids)}.example.com"
            if domain in used_domains:
                continue
            used_domains.add(domain)
            company = await companies.create_company(
                ctx,
                data={
                    "name": name,
                    "domain": domain,
                    "tags": rng.sample(COMPANY_TAGS, rng.randint(0, 2)),
                    "custom_fields": _company_fields(extra),
                },
            )
            company_ids.append((company.id, domain))
            if progress:
                progress(len(company_ids), total)
        for n in range(contacts_count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company_id, domain = rng.choice(company_ids)
            linked = rng.random() < 0.9
            created = await contacts.create_contact(
                ctx,
                data={
                    "name": f"{first} {last}",
                    "email": f"{first}.{last}.{n}@{domain if linked else 'mail.example.org'}".lower(),
                    "phone": _phone(rng) if rng.random() < 0.7 else None,
                    "company_id": company_id if linked else None,
                    "tags": rng.sample(CONTACT_TAGS, rng.randint(0, 3)),
                    "custom_fields": _contact_fields(extra),
                },
            )
            contact_ids.append(created.id)
            if progress:
                progress(companies_count + n + 1, total)
        await seed_timeline(ctx, extra, contact_ids)
        await uow.commit()
        return True
    finally:
        await uow.close()


CUSTOM_FIELDS: list[dict[str, Any]] = [
    {
        "key": "plan",
        "label": "Plan",
        "type": "select",
        "applies_to": "contacts",
        "options": ["free", "pro", "enterprise"],
    },
    {"key": "nps", "label": "NPS score", "type": "number", "applies_to": "contacts"},
    {
        "key": "newsletter",
        "label": "Newsletter opt-in",
        "type": "boolean",
        "applies_to": "contacts",
    },
    {"key": "renewal_date", "label": "Renewal date", "type": "date", "applies_to": "contacts"},
    {
        "key": "languages",
        "label": "Languages",
        "type": "multi_select",
        "applies_to": "contacts",
        "options": ["en", "fr", "de", "es", "ja"],
    },
    {
        "key": "industry",
        "label": "Industry",
        "type": "select",
        "applies_to": "companies",
        "options": ["software", "retail", "banking", "health", "manufacturing"],
    },
    {"key": "employees", "label": "Employees", "type": "number", "applies_to": "companies"},
]
SUBJECTS = (
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Feature request: export to CSV",
    "Upgrade to the enterprise plan",
    "Mobile app crashes on start",
    "Refund for a duplicate charge",
    "Question about data retention",
    "Onboarding call",
)
CHANNELS = {
    "conversation": ("email", "chat", "web"),
    "ticket": ("email", "web", "api"),
    "call": ("phone",),
}
STATUSES = {
    "conversation": ("open", "closed"),
    "ticket": ("open", "pending", "solved"),
    "call": ("completed", "missed"),
}
#: A 1x1 transparent PNG: the demo's attachments are real files the sniffer recognises.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def _contact_fields(rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {"plan": rng.choice(("free", "free", "pro", "enterprise"))}
    if rng.random() < 0.6:
        values["nps"] = rng.randint(0, 10)
    if rng.random() < 0.7:
        values["newsletter"] = rng.random() < 0.5
    if values["plan"] != "free":
        values["renewal_date"] = f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    values["languages"] = rng.sample(("en", "fr", "de", "es", "ja"), rng.randint(1, 2))
    return values


def _company_fields(rng: random.Random) -> dict[str, Any]:
    return {
        "industry": rng.choice(("software", "retail", "banking", "health", "manufacturing")),
        "employees": rng.choice((8, 25, 120, 640, 4200)),
    }


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_timeline(ctx: RequestContext, rng: random.Random, contact_ids: list[str]) -> None:
    """Conversations, tickets and calls for a tenth of the contacts; files on a few chats.

    The newest contacts get them, so the first page a newcomer opens shows a timeline."""
    now = datetime.now(UTC).replace(microsecond=0)
    files = 0
    for contact_id in reversed(contact_ids[-max(1, len(contact_ids) // 10) :]):
        for _ in range(rng.randint(1, 5)):
            kind = rng.choice(("conversation", "conversation", "ticket", "call"))
            item: dict[str, Any] = {
                "type": kind,
                "occurred_at": (now - timedelta(minutes=rng.randint(5, 180 * 24 * 60))).isoformat(),
                "subject": rng.choice(SUBJECTS),
                "status": rng.choice(STATUSES[kind]),
                "channel": rng.choice(CHANNELS[kind]),
                "direction": rng.choice(("inbound", "outbound")),
                "summary": "Demo activity generated by `serve --demo`.",
                "source": "demo",
            }
            if kind == "call":
                item["duration_seconds"] = rng.randint(30, 1800)
            logged = await activity.log_activity(ctx, contact_id=contact_id, data=item)
            if kind == "conversation" and files < 8 and rng.random() < 0.5:
                files += 1
                name, content = rng.choice(
                    (
                        ("screenshot.png", TINY_PNG),
                        ("steps-to-reproduce.txt", b"1. Open the app\n2. Tap Login\n3. Crash\n"),
                        ("order.json", b'{"order": 1042, "items": 3, "total": "129.90 EUR"}\n'),
                    )
                )
                await attachments.upload_attachment(
                    ctx,
                    contact_id=contact_id,
                    filename=name,
                    content=_bytes(content),
                    activity_id=logged.activity.id,
                )


async def demo_key(engine: AsyncEngine) -> str:
    """A fresh all-scopes key of the demo account (created with the account if needed)."""
    uow = UnitOfWork(engine)
    try:
        raw, _ = await keys.create_key(
            uow, account_name=DEMO_ACCOUNT, scopes=list(ALL_SCOPES), name="demo"
        )
        await uow.commit()
        return raw
    finally:
        await uow.close()
