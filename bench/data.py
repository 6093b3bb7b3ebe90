"""Realistic bench data, generated fast and bulk-loaded straight into the migrated schema.

Rows are produced with cheap string operations from small word lists (no data sets are
downloaded). Names follow a Zipf-like mix: ``smith`` (Smith, Smithson, Goldsmith, Blacksmith)
is in about 3 % of names and emails, ``elanhar`` (Elanhart) in about 0.03 %, and ``xyzzy``
in none. Companies: one per 20 contacts. Tags: 0-3 of 20 words per contact (``vip`` ≈ 4 %),
in the JSON column and in ``contact_tag``.

SQLite: the indexes and FTS triggers are dropped, every row goes in with ``executemany`` in
one transaction, then the indexes, the FTS5 trigram tables and the triggers are rebuilt.
PostgreSQL: secondary indexes are dropped, rows go in with ``COPY``, indexes are rebuilt,
then ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

ACCOUNT = "bench"
COMMON_TERM = "smith"
RARE_TERM = "elanhar"
MISSING_TERM = "xyzzy"
COMMON_TAG = "vip"

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Chris",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Donald",
    "Emily",
    "Steven",
    "Kimberly",
    "Paul",
    "Donna",
    "Andrew",
    "Michelle",
    "Joshua",
    "Carol",
    "Kenneth",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Deborah",
    "George",
    "Stephanie",
    "Timothy",
    "Rebecca",
    "Ronald",
    "Laura",
    "Jason",
    "Helen",
    "Edward",
    "Sharon",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Kathleen",
    "Jacob",
    "Amy",
    "Gary",
    "Anna",
    "Nicholas",
    "Shirley",
    "Eric",
    "Angela",
    "Jonathan",
    "Ruth",
    "Larry",
    "Brenda",
    "Justin",
    "Pamela",
    "Scott",
    "Nicole",
    "Frank",
    "Katherine",
    "Brandon",
    "Samantha",
    "Raymond",
    "Christine",
    "Gregory",
    "Emma",
    "Benjamin",
    "Olivia",
    "Samuel",
    "Sophia",
    "Noah",
    "Ava",
    "Liam",
    "Mia",
    "Lucas",
    "Chloe",
    "Mateo",
    "Aisha",
    "Yuki",
    "Priya",
    "Omar",
    "Ingrid",
    "Pedro",
    "Zofia",
    "Kwame",
    "Ines",
]

# Real common surnames (after the "smith" family), then syllable-built ones.
COMMON_LAST = [
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
]
SMITHS = (("Smith", 0.018), ("Smithson", 0.005), ("Goldsmith", 0.004), ("Blacksmith", 0.003))
RARE = (("Elanhart", 0.0003),)
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "te",
    "vo",
    "su",
    "ne",
    "di",
    "pa",
    "gu",
    "be",
    "to",
    "fi",
    "ro",
    "la",
    "ve",
    "qu",
    "ori",
    "and",
    "ber",
    "gen",
    "mal",
    "tor",
    "vin",
    "dor",
    "lis",
    "cas",
    "mer",
    "bro",
    "fen",
    "gal",
    "hol",
    "jun",
    "kes",
    "lum",
    "nor",
    "pol",
    "rus",
    "sel",
    "tam",
    "ul",
    "wen",
    "yor",
    "zan",
]
FORBIDDEN = (COMMON_TERM, RARE_TERM, MISSING_TERM)

COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Oscorp",
    "Nakatomi",
    "Gringotts",
    "Monarch",
    "Dunder",
    "Pied",
    "Sterling",
    "Vehement",
    "Prestige",
    "Nimbus",
    "Quantum",
    "Blue",
    "Red",
    "Green",
    "North",
    "South",
    "East",
    "West",
    "Silver",
    "Golden",
    "Iron",
    "Bright",
    "Rapid",
    "Summit",
    "Pioneer",
]
COMPANY_KINDS = [
    "Labs",
    "Systems",
    "Logistics",
    "Foods",
    "Media",
    "Health",
    "Energy",
    "Retail",
    "Partners",
    "Holdings",
    "Software",
    "Analytics",
    "Travel",
    "Studios",
    "Works",
    "Supply",
    "Dynamics",
    "Networks",
    "Robotics",
    "Textiles",
]
TAGS = [
    "lead",
    "customer",
    "partner",
    "trial",
    "churned",
    "enterprise",
    "smb",
    "emea",
    "apac",
    "amer",
    "beta",
    "newsletter",
    "support",
    "billing",
    "priority",
    "reseller",
    "press",
    "investor",
    "internal",
]
MAIL_HOSTS = ("mail.example", "inbox.example", "post.example", "corp.example")


def _synthetic_last(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))
        if any(f in word for f in FORBIDDEN):
            continue
        names.add(word.capitalize())
    return sorted(names)


def _last_names(rng: random.Random) -> tuple[list[str], list[float]]:
    """Surnames with Zipf-like weights summing to 1, with the fixed shares above."""
    fixed = SMITHS + RARE
    rest = COMMON_LAST + _synthetic_last(rng, 3000)
    budget = 1.0 - sum(w for _, w in fixed)
    zipf = [1.0 / (rank + 10) for rank in range(len(rest))]
    scale = budget / sum(zipf)
    names = [n for n, _ in fixed] + rest
    weights = [w for _, w in fixed] + [z * scale for z in zipf]
    return names, weights


def _tag_combos(rng: random.Random) -> list[tuple[str, ...]]:
    """500 tag lists: 40 % none, 35 % one, 20 % two, 5 % three; ``vip`` in about 4 %."""
    weights = [3.0] * len(TAGS)
    combos: list[tuple[str, ...]] = []
    for i in range(500):
        size = 0 if i < 200 else 1 if i < 375 else 2 if i < 475 else 3
        chosen: list[str] = []
        while len(chosen) < size:
            tag = rng.choices(TAGS, weights)[0]
            if tag not in chosen:
                chosen.append(tag)
        combos.append(tuple(chosen))
    # vip: in 20 of the 500 combos = 4 % of contacts
    for i in range(200, 220):
        combos[i] = (COMMON_TAG, *combos[i][1:])
    return combos


EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_US = 3 * 365 * 24 * 3600 * 1_000_000


@dataclass
class Dataset:
    """The generated rows (column tuples ready for executemany / COPY)."""

    account_id: str
    contacts: int
    companies: list[tuple[Any, ...]] = field(default_factory=list)
    contact_rows: list[tuple[Any, ...]] = field(default_factory=list)
    tag_rows: list[tuple[str, str, str]] = field(default_factory=list)


CONTACT_COLUMNS = (
    "id",
    "account_id",
    "name",
    "email",
    "email_norm",
    "phone",
    "company_id",
    "tags",
    "custom_fields",
    "version",
    "created_at",
    "updated_at",
)
COMPANY_COLUMNS = (
    "id",
    "account_id",
    "name",
    "domain",
    "tags",
    "custom_fields",
    "version",
    "created_at",
    "updated_at",
)


def generate(account_id: str, contacts: int, *, sqlite: bool, seed: int = 6) -> Dataset:
    """Every row for ``contacts`` contacts; timestamps as SQLite text or aware datetimes."""
    rng = random.Random(seed)
    n_companies = max(1, contacts // 20)
    data = Dataset(account_id=account_id, contacts=contacts)

    # SQLite stores UTC timestamps as fixed-width text; build it from precomputed parts.
    days = [
        (EPOCH + timedelta(days=d)).date().isoformat() for d in range(SPAN_US // 86_400_000_000 + 2)
    ]
    clock = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]

    def stamp(us: int) -> Any:
        if not sqlite:
            return EPOCH + timedelta(microseconds=us)
        sec, frac = divmod(us, 1_000_000)
        day, rest = divmod(sec, 86_400)
        return f"{days[day]} {clock[rest]}.{frac:06d}"

    # Ids are time-prefixed like real ones, so id order follows created_at order.
    suffixes = [f"{rng.getrandbits(64):016x}" for _ in range(1024)]
    company_ids = [f"co_{i:010x}{suffixes[i & 1023]}" for i in range(n_companies)]
    company_step = SPAN_US // n_companies
    for i, cid in enumerate(company_ids):
        w = COMPANY_WORDS[i % len(COMPANY_WORDS)]
        k = COMPANY_KINDS[(i // len(COMPANY_WORDS)) % len(COMPANY_KINDS)]
        ts = stamp(i * company_step)
        data.companies.append(
            (
                cid,
                account_id,
                f"{w} {k} {i}",
                f"{w.lower()}{k.lower()}{i}.example",
                "[]",
                "{}",
                1,
                ts,
                ts,
            )
        )

    firsts = rng.choices([(f, f.lower()) for f in FIRST], k=contacts)
    names, weights = _last_names(rng)
    lasts = rng.choices([(n, n.lower()) for n in names], weights, k=contacts)
    combos = _tag_combos(rng)
    combo_json = [orjson.dumps(list(c)).decode() for c in combos]
    combo_idx = rng.choices(range(len(combos)), k=contacts)
    # 90 % of contacts have a company.
    pool: list[str | None] = [*company_ids, *([None] * (n_companies // 9))]
    company_pick = rng.choices(pool, k=contacts)
    hosts = MAIL_HOSTS
    step = SPAN_US // contacts
    rows = data.contact_rows
    append = rows.append
    for i in range(contacts):
        first, first_l = firsts[i]
        last, last_l = lasts[i]
        email = f"{first_l}.{last_l}.{i}@{hosts[i & 3]}"
        ts = stamp(i * step + (i * 7919) % step)
        append(
            (
                f"ct_{i:010x}{suffixes[i & 1023]}",
                account_id,
                f"{first} {last}",
                email,
                email,
                f"+1555{i:07d}",
                company_pick[i],
                combo_json[combo_idx[i]],
                "{}",
                1,
                ts,
                ts,
            )
        )
    by_tag: dict[str, list[str]] = {t: [] for t in (*TAGS, COMMON_TAG)}
    for i in range(contacts):
        for tag in combos[combo_idx[i]]:
            by_tag[tag].append(rows[i][0])
    for tag in sorted(by_tag):
        data.tag_rows.extend((account_id, tag, cid) for cid in by_tag[tag])
    return data


def _batches(rows: list[tuple[Any, ...]], size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


Progress = Callable[[str], None]


def load_sqlite(path: str, data: Dataset, progress: Progress) -> dict[str, float]:
    """Bulk-load into a migrated SQLite file (the account row must exist)."""
    timings: dict[str, float] = {}
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-400000")
        con.execute("PRAGMA foreign_keys=OFF")
        tables = ("contact", "company", "contact_tag", "company_tag")
        marks = ",".join("?" * len(tables))
        saved = con.execute(
            f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index','trigger') "
            f"AND sql IS NOT NULL AND tbl_name IN ({marks})",
            tables,
        ).fetchall()
        t0 = time.perf_counter()
        con.execute("BEGIN")
        for kind, name, _sql in saved:
            con.execute(f"DROP {kind.upper()} {name}")
        c_marks = ",".join("?" * len(COMPANY_COLUMNS))
        for batch in _batches(data.companies):
            con.executemany(
                f"INSERT INTO company ({','.join(COMPANY_COLUMNS)}) VALUES ({c_marks})", batch
            )
        marks = ",".join("?" * len(CONTACT_COLUMNS))
        sql = f"INSERT INTO contact ({','.join(CONTACT_COLUMNS)}) VALUES ({marks})"
        for n, batch in enumerate(_batches(data.contact_rows, 100_000)):
            con.executemany(sql, batch)
            progress(f"contacts {min((n + 1) * 100_000, data.contacts):,}")
        con.executemany(
            "INSERT INTO contact_tag (account_id, tag, contact_id) VALUES (?,?,?)", data.tag_rows
        )
        con.execute(
            "UPDATE account SET contact_count = ? WHERE id = ?", (data.contacts, data.account_id)
        )
        timings["insert_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("indexes")
        for kind, _name, sql in saved:
            if kind == "index":
                con.execute(sql)
        timings["indexes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("FTS5 trigram")
        for fts in ("contact_fts", "company_fts"):
            con.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        for kind, _name, sql in saved:
            if kind == "trigger":
                con.execute(sql)
        con.execute("COMMIT")
        timings["fts_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("ANALYZE")
        con.execute("ANALYZE")
        con.execute("PRAGMA journal_mode=WAL")
        timings["analyze_s"] = time.perf_counter() - t0
    finally:
        con.close()
    return timings


async def load_postgres(conn: Any, data: Dataset, progress: Progress) -> dict[str, float]:
    """Bulk-load with COPY through an asyncpg connection (the account row must exist)."""
    timings: dict[str, float] = {}
    tables = ["contact", "company", "contact_tag", "company_tag"]
    saved = await conn.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        tables,
    )
    t0 = time.perf_counter()
    async with conn.transaction():
        for row in saved:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        await conn.copy_records_to_table("company", records=data.companies, columns=COMPANY_COLUMNS)
        for n, batch in enumerate(_batches(data.contact_rows, 200_000)):
            await conn.copy_records_to_table("contact", records=batch, columns=CONTACT_COLUMNS)
            progress(f"contacts {min((n + 1) * 200_000, data.contacts):,}")
        await conn.copy_records_to_table(
            "contact_tag", records=data.tag_rows, columns=("account_id", "tag", "contact_id")
        )
        await conn.execute(
            "UPDATE account SET contact_count = $1 WHERE id = $2", data.contacts, data.account_id
        )
        timings["insert_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("indexes (B-tree and pg_trgm GIN)")
        await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for row in saved:
            await conn.execute(row["indexdef"])
    timings["indexes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    progress("VACUUM ANALYZE")
    for table in (*tables, "account"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    timings["analyze_s"] = time.perf_counter() - t0
    return timings
