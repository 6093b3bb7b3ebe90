"""Recognise database failures the domain layer turns into clear errors."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

#: Unique indexes and the API field each one protects.
_UNIQUE_FIELDS = {
    "ux_contact_account_email": "email",
    "contact.email_norm": "email",
    "ux_company_account_domain_active": "domain",
    "company.domain": "domain",
    "ux_contact_account_external": "external_id",
    "account.name": "account",
    "account_name_key": "account",
}


def unique_violation_field(exc: IntegrityError) -> str | None:
    """The API field whose uniqueness ``exc`` violated, or None if it is another failure."""
    text = str(exc.orig)
    for marker, field in _UNIQUE_FIELDS.items():
        if marker in text:
            return field
    return None


def is_lock_timeout(exc: OperationalError) -> bool:
    """SQLite gave up waiting for the write lock (busy timeout)."""
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


#: SQLSTATEs after which the whole transaction can simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
#: SQLSTATEs of PostgreSQL giving up on time: statement_timeout (or a cancel), lock_timeout.
TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})


def sqlstate_of(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a DBAPI error (wrapped by SQLAlchemy or not), if it has one."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code) if code else None


def is_retryable(exc: DBAPIError) -> bool:
    """A PostgreSQL serialization failure or deadlock: the transaction can be retried."""
    return sqlstate_of(exc) in RETRYABLE_SQLSTATES


def is_timeout(exc: DBAPIError) -> bool:
    """PostgreSQL cancelled a statement (statement_timeout) or gave up waiting for a lock."""
    return sqlstate_of(exc) in TIMEOUT_SQLSTATES


def is_busy(exc: DBAPIError) -> bool:
    """Worth a retry later (503): SQLite lock wait ran out, PostgreSQL timeout or abort."""
    lock_timeout = isinstance(exc, OperationalError) and is_lock_timeout(exc)
    return lock_timeout or is_retryable(exc) or is_timeout(exc)


BUSY_MESSAGE = "the database is busy; retry shortly"


def is_invalid_text(exc: DBAPIError) -> bool:
    """PostgreSQL refused a string it cannot store (a NUL character): the input was bad."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"22021", "22P05"} or "invalid byte sequence" in str(exc.orig)


#: What a client is told when :func:`is_invalid_text` is true.
INVALID_TEXT_MESSAGE = "text must not contain NUL (\\u0000) characters"


def is_disk_full(exc: DBAPIError) -> bool:
    """The database cannot grow: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == "53100" or "database or disk is full" in str(exc.orig)


#: What a client is told when :func:`is_disk_full` is true (503 + Retry-After).
DISK_FULL_MESSAGE = "the database is out of space; nothing was written. Retry later"
