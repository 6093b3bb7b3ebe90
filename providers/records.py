"""Provider-neutral records the sync engine consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ProviderContact:
    """One contact as a provider reports it, already normalised."""

    external_id: str
    name: str
    email: str | None
    phone: str | None
    company_external_id: str | None
    tags: list[str]
    updated_at: datetime
    deleted: bool = False
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class ProviderCompany:
    """One company (Freshdesk) or organization (Zendesk), already normalised."""

    external_id: str
    name: str
    domain: str | None
    tags: list[str]
    updated_at: datetime
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A raw record that could not be mapped, with the reason it was skipped."""

    external_id: str | None
    reason: str


ContactItem = ProviderContact | SkippedRecord
CompanyItem = ProviderCompany | SkippedRecord


@dataclass(slots=True)
class ListingStats:
    """Counters a client keeps while listing (pages fetched, records seen, retries)."""

    pages: int = 0
    records: int = 0
    skipped: int = 0
    duplicates: int = 0
    repasses: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def count(self, items: list[ContactItem] | list[CompanyItem]) -> None:
        """Add one mapped page to the counters."""
        self.pages += 1
        for item in items:
            if isinstance(item, SkippedRecord):
                self.skipped += 1
                self.skip_reasons[item.reason] = self.skip_reasons.get(item.reason, 0) + 1
            else:
                self.records += 1
