"""Settings from environment variables (prefix ``TOIT_EMPLOI_``), with safe defaults for local use only."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "local-development-secret-change-me-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOIT_EMPLOI_", extra="ignore", env_file=None)

    environment: Literal["local", "test", "production"] = "local"
    # DATABASE_URL is read without prefix too (the usual convention for hosting platforms).
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="postgresql:// or postgresql+asyncpg:// URL",
    )
    data_dir: str = ".data"
    # The database pool of each process (docs/operations.md#the-database-pool): `db_pool_size` connections stay open
    # (size it to the requests one worker serves at once), `db_pool_max_overflow` more may open under a burst and are
    # closed when returned; a request waits up to `db_pool_timeout_seconds` for one, then answers 503.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_pool_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    jwt_secret: str = DEFAULT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "toit-emploi-api"
    jwt_audience: str = "toit-emploi-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Access tokens each process has verified, kept so that a token's next requests skip the signature check
    # (`auth.tokens.VerifiedTokens`; expiry checked on every use); 0 verifies every request.
    verified_tokens_kept: int = Field(default=1024, ge=0, le=100_000)
    # People's refresh tokens: a token unused for this long expires (each use rotates it and restarts the clock).
    refresh_token_idle_days: int = Field(default=30, ge=1, le=365)
    # Bearer token for GET /metrics (Prometheus); unset: only an admin's access token may read the metrics.
    metrics_token: str | None = Field(default=None, min_length=32)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_sync_body_bytes: int = Field(default=32 * 1_048_576, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    log_json: bool | None = None
    log_level: str = "INFO"
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: str | None = None
    idempotency_ttl_hours: int = Field(default=48, ge=24)
    # Reports: for the funder role, a group or breakdown cell counting 1 to (threshold - 1) households is hidden.
    report_suppression_threshold: int = Field(default=3, ge=1)
    # The manager's agenda (docs/desk.md): days without a follow-up entry, days without news of an open placement,
    # and how far ahead right-to-work documents are flagged.
    agenda_follow_up_days: int = Field(default=30, ge=1, le=365)
    agenda_placement_stale_days: int = Field(default=21, ge=1, le=365)
    agenda_right_to_work_days: int = Field(default=90, ge=1, le=730)
    # Privacy (docs/privacy.md): files are anonymised this many months after the last contact (CNIL: 2 years).
    retention_months: int = Field(default=24, ge=24)
    # The daily retention run inside the API process and `toit-emploi worker` (safe with several: advisory lock).
    # None: on in production, off in the local and test environments (there, `toit-emploi retention run`).
    retention_scheduler: bool | None = None
    retention_run_hour: int = Field(default=3, ge=0, le=23, description="Paris hour of the daily run")
    retention_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # Argon2id cost for passwords and API client secrets. The defaults are argon2-cffi's (RFC 9106 low-memory
    # profile: 3 passes, 64 MiB, 4 lanes); only tests should go lower. Existing hashes keep verifying whatever the
    # cost, which is encoded in each hash.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65_536, ge=8, description="KiB")
    argon2_parallelism: int = Field(default=4, ge=1)
    # --- the background worker and webhooks (docs/integration.md#webhooks) ---
    # `toit-emploi serve` runs the worker loops inside each API process unless this is false (then run
    # `toit-emploi worker` alone, as many as you like: they share the work through PostgreSQL row locks).
    worker_in_serve: bool = True
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Exponential backoff with jitter: retry n waits a random time between half and all of
    # min(base * 2**(n-1), max); the first retry comes within `base` seconds.
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0, le=30)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    webhook_disable_after_hours: float = Field(default=72.0, gt=0)
    webhook_concurrency: int = Field(default=4, ge=1, le=64)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A rotated secret keeps signing (alongside the new one) this long, so receivers can switch without a gap.
    webhook_previous_secret_hours: float = Field(default=24.0, ge=0)
    # Dispatched events (with their deliveries and attempts) are deleted after this many days.
    webhook_retention_days: int = Field(default=30, ge=1)
    # None: allowed in the local and test environments only (http:// and loopback/private addresses).
    webhook_allow_private_urls: bool | None = None

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEFAULT_SECRET or len(self.jwt_secret) < 32:
                raise ValueError(
                    "TOIT_EMPLOI_JWT_SECRET must be set to a secret of at least 32 characters in production"
                )
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production")
            if self.webhook_allow_private_urls:
                raise ValueError("TOIT_EMPLOI_WEBHOOK_ALLOW_PRIVATE_URLS cannot be true in production (SSRF)")
        return self

    @model_validator(mode="after")
    def _argon2_memory_fits_lanes(self) -> Settings:
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            raise ValueError("TOIT_EMPLOI_ARGON2_MEMORY_COST must be at least 8 KiB per lane (parallelism)")
        return self

    @property
    def webhooks_private_urls_allowed(self) -> bool:
        """http:// and private, loopback or link-local targets: by default only outside production."""
        if self.webhook_allow_private_urls is not None:
            return self.webhook_allow_private_urls
        return self.environment != "production"

    @property
    def runs_retention(self) -> bool:
        """Whether this process runs the daily retention job (privacy.scheduler)."""
        return self.retention_scheduler if self.retention_scheduler is not None else self.environment == "production"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.environment == "production"

    @property
    def async_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (the launcher sets it for the embedded server)")
        return to_async_url(self.database_url)


def to_async_url(url: str) -> str:
    """Accept the usual ``postgresql://`` / ``postgres://`` forms and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL")


@lru_cache
def get_settings() -> Settings:
    return Settings()
