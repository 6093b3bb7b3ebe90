"""Process settings, from ``CONTACTS_GATEWAY_*`` environment variables (and CLI flags)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./contacts.db"


class Settings(BaseSettings):
    """Every setting, its default and its environment variable (``CONTACTS_GATEWAY_`` + name)."""

    model_config = SettingsConfigDict(env_prefix="CONTACTS_GATEWAY_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy async URL")
    db_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL connections per process")
    db_max_overflow: int = Field(10, ge=0, le=200, description="extra PostgreSQL connections")
    db_statement_timeout_ms: int = Field(15_000, ge=100, description="PostgreSQL statement_timeout")
    sqlite_busy_timeout_ms: int = Field(5_000, ge=0, description="SQLite busy_timeout")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest JSON body (413 above)")
    graphql_max_depth: int = Field(10, ge=2, description="deepest GraphQL selection")
    graphql_max_aliases: int = Field(30, ge=1, description="most aliases in one GraphQL document")
    graphql_max_tokens: int = Field(2_000, ge=50, description="most tokens in one GraphQL document")
    graphql_ide: bool = Field(True, description="serve GraphiQL on GET /graphql")
    graphql_introspection: bool = Field(True, description="allow GraphQL introspection")
    allow_private_urls: bool = Field(
        False, description="allow outbound calls to private/loopback hosts"
    )
    data_dir: Path = Field(Path("./data"), description="local blob store and other files")
    blob_dir: Path | None = Field(None, description="attachment bytes (default: data_dir/blobs)")
    max_upload_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="largest attachment file (413 above)"
    )
    demo_key: str | None = Field(None, description="API key pre-filled in GraphiQL (demo mode)")
    log_level: str = Field("INFO", description="logging level")
    log_json: bool | None = Field(None, description="JSON logs (default: when not a terminal)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
