"""Registry settings (BAOXUE_ prefix)."""

from pathlib import Path

from pydantic import Field, model_validator

from services.registry.domain.comparisons import Rules
from services.registry.domain.configuration import rules_from_body
from services.registry.domain.pseudonyms import DEV_PSEUDONYM_KEY
from services.runtime.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Comparison rules, the scheduled run and import batching."""

    transfer_lost_days: int = Field(30, ge=1, description="Days a transfer out may wait for its transfer in")
    school_year_start_month: int = Field(9, ge=1, le=12)
    school_year_start_day: int = Field(1, ge=1, le=31)
    transition_deadline: str | None = Field(
        None, pattern=r"^[0-9]{2}-[0-9]{2}$",
        description="小升初 deadline MM-DD after primary graduation (empty: the school-year start)")
    comparison_prefix: str = Field("", description="Jurisdiction the scheduled comparisons cover (empty: all)")
    comparison_hour: int = Field(2, ge=0, le=23, description="Local hour of the daily scheduled comparison run")
    scheduler_interval_s: float = Field(30.0, gt=0, description="How often the scheduler reads the clock to see "
                                        "whether the day's run is due (an idle look reads no database)")
    import_batch_size: int = Field(5000, ge=100, le=50_000, description="Events per insert transaction in imports")
    index_batch_size: int = Field(5000, ge=100, le=50_000)
    pseudonym_key: str = Field(DEV_PSEUDONYM_KEY, min_length=16,
                               description="HMAC key of student ids and blind indexes (secret; never rotate in place)")
    key_file: Path | None = Field(None, description="KEK file ({current, keys}) wrapping the per-child data keys; "
                                                    "unset: the development KEK (refused in production)")
    dek_cache_s: float = Field(60.0, ge=0, description="Seconds a process keeps an unwrapped data key")

    @model_validator(mode="after")
    def _refuse_development_keys(self) -> "RegistrySettings":
        if self.env == "production":
            if self.pseudonym_key == DEV_PSEUDONYM_KEY or len(self.pseudonym_key) < 32:
                raise ValueError("BAOXUE_PSEUDONYM_KEY must be a secret of at least 32 characters in production")
            if self.key_file is None:
                raise ValueError("BAOXUE_KEY_FILE (the KEK file) must be set in production")
        return self

    def rules(self) -> Rules:
        """The default comparison rules (version 1); jurisdictions override them through the API."""
        body = {"transfer_lost_days": self.transfer_lost_days,
                "school_year_start": (self.school_year_start_month, self.school_year_start_day)}
        if self.transition_deadline:
            body["transition_deadline"] = self.transition_deadline
        return rules_from_body(body, version=1, jurisdiction="", default=Rules())
