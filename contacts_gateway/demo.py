"""Demo data: a realistic account (about 50 companies, 500 contacts) created through the domain layer."""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from db.queries import keys as key_q
from db.uow import UnitOfWork
from resolvers import companies, contacts, keys
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
                },
            )
            company_ids.append((company.id, domain))
            if progress:
                progress(len(company_ids), total)
        for n in range(contacts_count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company_id, domain = rng.choice(company_ids)
            linked = rng.random() < 0.9
            await contacts.create_contact(
                ctx,
                data={
                    "name": f"{first} {last}",
                    "email": f"{first}.{last}.{n}@{domain if linked else 'mail.example.org'}".lower(),
                    "phone": _phone(rng) if rng.random() < 0.7 else None,
                    "company_id": company_id if linked else None,
                    "tags": rng.sample(CONTACT_TAGS, rng.randint(0, 3)),
                },
            )
            if progress:
                progress(companies_count + n + 1, total)
        await uow.commit()
        return True
    finally:
        await uow.close()


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
