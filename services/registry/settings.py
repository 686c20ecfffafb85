"""Registry settings (BAOXUE_ prefix)."""

from pydantic import Field

from services.registry.comparisons import Rules
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

    def rules(self) -> Rules:
        """The default comparison rules (version 1); jurisdictions override them through the API."""
        from services.registry.configuration import rules_from_body

        body = {"transfer_lost_days": self.transfer_lost_days,
                "school_year_start": (self.school_year_start_month, self.school_year_start_day)}
        if self.transition_deadline:
            body["transition_deadline"] = self.transition_deadline
        return rules_from_body(body, version=1, jurisdiction="", default=Rules())
