"""Deterministic, fast generators of realistic people and companies for the fake providers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

FIRST_NAMES = [
    "Aaliyah",
    "Aarav",
    "Abigail",
    "Adrian",
    "Aiko",
    "Alejandro",
    "Alice",
    "Amara",
    "Amelia",
    "Andrei",
    "Anika",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Chloe",
    "Chioma",
    "Daniel",
    "Dara",
    "Diego",
    "Elena",
    "Elif",
    "Emma",
    "Ethan",
    "Fatima",
    "Felix",
    "Freya",
    "Gabriel",
    "Grace",
    "Hana",
    "Hannah",
    "Hugo",
    "Ines",
    "Isaac",
    "Isabella",
    "Ivan",
    "Jack",
    "Jamal",
    "Javier",
    "Jin",
    "Johan",
    "Julia",
    "Kai",
    "Kenji",
    "Laila",
    "Lars",
    "Leila",
    "Leo",
    "Liam",
    "Lucia",
    "Luis",
    "Maya",
    "Mateo",
    "Mei",
    "Mia",
    "Mohammed",
    "Nadia",
    "Naomi",
    "Nikolai",
    "Noah",
    "Nora",
    "Olivia",
    "Omar",
    "Oscar",
    "Priya",
    "Quinn",
    "Rafael",
    "Ravi",
    "Rosa",
    "Sakura",
    "Samuel",
    "Sara",
    "Sofia",
    "Sven",
    "Tariq",
    "Theo",
    "Uma",
    "Valentina",
    "Victor",
    "Wei",
    "Willa",
    "Xavier",
    "Yara",
    "Yusuf",
    "Zara",
    "Zoe",
]
LAST_NAMES = [
    "Abbott",
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brown",
    "Chen",
    "Costa",
    "Dubois",
    "Dupont",
    "Eriksen",
    "Fernandez",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Gupta",
    "Haddad",
    "Hansen",
    "Hoffmann",
    "Ibrahim",
    "Ivanova",
    "Jensen",
    "Johnson",
    "Kaur",
    "Kim",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Perez",
    "Petrov",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Thompson",
    "Torres",
    "Ulrich",
    "Vargas",
    "Wagner",
    "Walker",
    "Wang",
    "Weber",
    "Williams",
    "Wilson",
    "Yamamoto",
    "Young",
    "Zhang",
]
COMPANY_WORDS = [
    "Acme",
    "Apex",
    "Atlas",
    "Beacon",
    "Blue",
    "Bright",
    "Cascade",
    "Cedar",
    "Cobalt",
    "Crest",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Fjord",
    "Granite",
    "Harbor",
    "Helix",
    "Horizon",
    "Iron",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "Nova",
    "Oak",
    "Orbit",
    "Pine",
    "Pioneer",
    "Quartz",
    "Redwood",
    "Sage",
    "Silver",
    "Summit",
    "Tidal",
    "Vertex",
    "Willow",
    "Zenith",
]
COMPANY_SUFFIXES = ("Labs", "Systems", "Group", "Logistics", "Health", "Foods", "Works", "Media")
TLDS = ("com", "io", "co", "net", "de", "fr", "co.uk", "org")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "fastmail.com")
TAGS = ("vip", "newsletter", "beta", "enterprise", "churn-risk", "partner", "trial", "priority")
PHONE_FORMATS = (
    "+1 415-{a:03d}-{b:04d}",
    "+1 (212) {a:03d}-{b:04d}",
    "+44 20 7{a:03d} {b:04d}",
    "+49 30 {a:03d}{b:04d}",
    "+33 1 4{a:03d} {b:04d}",
    "+81 3-{a:04d}-{b:04d}",
)


@dataclass(slots=True)
class PersonSeed:
    """Generated fields of one person."""

    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    company_index: int | None
    tags: tuple[str, ...]
    updated_offset: int
    created_offset: int


@dataclass(slots=True)
class CompanySeed:
    """Generated fields of one company."""

    name: str
    domain: str
    tags: tuple[str, ...]
    updated_offset: int


def _phone(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.33:
        return rng.choice(("12345", "n/a", "call me", "+1 000-000-0000"))
    fmt = PHONE_FORMATS[rng.randrange(len(PHONE_FORMATS))]
    return fmt.format(a=rng.randrange(200, 999), b=rng.randrange(1000, 9999))


def _ascii(word: str) -> str:
    return word.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")


def generate_companies(count: int, seed: int) -> list[CompanySeed]:
    """Return `count` companies with unique names and domains."""
    rng = random.Random(f"companies-{seed}")
    companies: list[CompanySeed] = []
    for index in range(count):
        word = COMPANY_WORDS[index % len(COMPANY_WORDS)]
        suffix = COMPANY_SUFFIXES[(index // len(COMPANY_WORDS)) % len(COMPANY_SUFFIXES)]
        serial = index // (len(COMPANY_WORDS) * len(COMPANY_SUFFIXES))
        name = f"{word} {suffix}" + (f" {serial + 1}" if serial else "")
        tld = TLDS[rng.randrange(len(TLDS))]
        domain = f"{word.lower()}{suffix.lower()}{serial or ''}.{tld}"
        tags = tuple(rng.sample(TAGS, rng.randrange(0, 3)))
        companies.append(CompanySeed(name, domain, tags, rng.randrange(0, 400 * 86400)))
    return companies


def iter_people(count: int, seed: int, companies: list[CompanySeed]) -> Iterator[PersonSeed]:
    """Yield `count` people; emails are unique, some missing, some phones unusable."""
    rng = random.Random(f"people-{seed}")
    n_first, n_last, n_comp = len(FIRST_NAMES), len(LAST_NAMES), len(companies)
    for index in range(count):
        first = FIRST_NAMES[rng.randrange(n_first)]
        last = LAST_NAMES[rng.randrange(n_last)]
        company_index = rng.randrange(n_comp) if n_comp and rng.random() < 0.7 else None
        roll = rng.random()
        if roll < 0.03:
            email = None
        elif company_index is not None and roll < 0.75:
            email = f"{_ascii(first)}.{_ascii(last)}{index}@{companies[company_index].domain}"
        else:
            email = f"{_ascii(first)}{index}@{FREE_MAIL[index % len(FREE_MAIL)]}"
        if email is not None and rng.random() < 0.05:
            email = f"  {email[0].upper()}{email[1:]} "
        n_tags = rng.randrange(0, 4) if rng.random() < 0.5 else 0
        tags = tuple(rng.sample(TAGS, n_tags)) if n_tags else ()
        updated = rng.randrange(0, 730 * 86400)
        yield PersonSeed(
            name=f"{first} {last}",
            email=email,
            phone=_phone(rng),
            mobile=_phone(rng) if rng.random() < 0.3 else None,
            company_index=company_index,
            tags=tags,
            updated_offset=updated,
            created_offset=updated + rng.randrange(0, 365 * 86400),
        )
