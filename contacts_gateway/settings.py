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
    db_retry_attempts: int = Field(
        4, ge=1, le=20, description="runs of a request PostgreSQL aborts (deadlock/40001); 1 = none"
    )
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
    # -- sync (issue 4) ----------------------------------------------------------------------
    secret_key: str | None = Field(
        None,
        description="Fernet key encrypting provider secrets at rest (default: generated once"
        " into data_dir/secret.key)",
        repr=False,
    )
    sync_overlap_minutes: float = Field(
        10, ge=0, le=1440, description="differential sync re-reads this much before the cursor"
    )
    sync_batch_size: int = Field(500, ge=1, le=5000, description="records written per transaction")
    sync_max_delete_share: float = Field(
        0.5, ge=0, le=1, description="reconciliation aborts above this share of linked contacts"
    )
    sync_retry_wait_scale: float = Field(
        1.0, ge=0, description="multiplies provider waits (Retry-After, backoff); 0 in tests"
    )
    sync_max_attempts: int = Field(10, ge=1, le=50, description="tries per provider request")
    sync_max_total_wait_seconds: float = Field(
        900, ge=0, description="total provider waiting a run may spend before it fails"
    )
    sync_lease_seconds: float = Field(
        120, ge=5, description="sync lease lifetime (renewed while a run is alive)"
    )
    scheduler_enabled: bool = Field(True, description="run due auto-syncs inside `serve`")
    scheduler_poll_seconds: float = Field(
        60, ge=0.05, description="how often the scheduler looks for due auto-syncs"
    )
    # -- webhooks and subscriptions (issue 8) ------------------------------------------------
    webhook_worker_enabled: bool = Field(True, description="deliver webhooks inside `serve`")
    webhook_poll_seconds: float = Field(
        1.0, ge=0.01, description="how often the delivery worker looks for due retries"
    )
    webhook_timeout_seconds: float = Field(10, gt=0, le=60, description="per delivery attempt")
    webhook_retry_schedule: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 36000, 36000],
        description="seconds before each retry (about a day in all); JSON list in the env",
    )
    webhook_retry_jitter: float = Field(
        0.1, ge=0, le=1, description="random extra delay, as a share of the scheduled one"
    )
    webhook_max_retry_after_seconds: float = Field(
        86_400, ge=0, description="longest Retry-After honoured"
    )
    webhook_disable_after_days: float = Field(
        5, gt=0, description="an endpoint failing this long without a success is disabled"
    )
    webhook_secret_overlap_hours: float = Field(
        24, ge=0, description="how long the previous secret still signs after a rotation"
    )
    webhook_concurrency: int = Field(16, ge=1, le=256, description="deliveries in flight")
    events_poll_seconds: float = Field(
        1.0, ge=0.01, description="how often subscribers poll the outbox (SQLite, no Redis)"
    )
    redis_url: str | None = Field(
        None, description="redis://… : publish events to subscribers on other replicas"
    )
    # -- safety under load (issue 7); redis_url above also makes rate limits shared ----------
    rate_limit_enabled: bool = Field(True, description="per-API-key rate limits (429)")
    rate_limit_per_second: float = Field(
        100, gt=0, description="requests per second each API key may sustain"
    )
    rate_limit_burst: int = Field(1_000, ge=1, description="requests an API key may send at once")
    auth_failure_per_minute: float = Field(
        60, gt=0, description="rejected API keys per minute a client address may send"
    )
    auth_failure_burst: int = Field(
        100, ge=1, description="rejected API keys a client address may send at once"
    )
    request_timeout_seconds: float = Field(
        30, gt=0, description="longest time to the response start; then 503 problem+json"
    )
    graphql_max_cost: int = Field(
        20_000, ge=10, description="most costly GraphQL query (list sizes multiply)"
    )
    production: bool = Field(
        False,
        description="production switch: no GraphQL introspection, no field suggestions, no GraphiQL",
    )
    idempotency_purge_seconds: float = Field(
        3_600, gt=0, description="how often `serve` deletes expired idempotency records"
    )

    # -- observability (issue 9) -------------------------------------------------------------
    metrics_enabled: bool = Field(True, description="serve Prometheus metrics on GET /metrics")
    metrics_token: str | None = Field(
        None, description="when set, /metrics needs `Authorization: Bearer <token>`", repr=False
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector (e.g. http://127.0.0.1:4318): turns tracing on;"
        " needs the `otel` extra",
    )
    otel_service_name: str = Field("contacts-gateway", description="service.name of the traces")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
