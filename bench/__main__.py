"""``python -m bench``: the benchmark suite (see bench/runner.py and the README)."""

from __future__ import annotations

import argparse

from bench.runner import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to run beside SQLite")
    parser.add_argument("--with-postgres", action="store_true", help="also the local PostgreSQL")
    parser.add_argument("--json", dest="json_out", default=None, help="write results here")
    parser.add_argument("--regenerate", action="store_true", help="reload even if data exists")
    parser.add_argument("--http-seconds", type=float, default=4.0, help="each throughput phase")
    parser.add_argument("--no-peer", action="store_true", help="skip PostGraphile")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = parser.parse_args()
    run(
        contacts=args.contacts,
        database_url=args.database_url,
        with_postgres=args.with_postgres,
        json_out=args.json_out,
        regenerate=args.regenerate,
        http_seconds=args.http_seconds,
        peer=not args.no_peer,
        sqlite=not args.no_sqlite,
    )


if __name__ == "__main__":
    main()
