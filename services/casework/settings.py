"""Casework settings (BAOXUE_ prefix)."""

from typing import Annotated

from pydantic import Field

from services.casework.domain.policy import CasePolicy
from services.runtime.settings import ServiceSettings


class CaseworkSettings(ServiceSettings):
    """Casework's own knobs beside the runtime's."""

    case_index_batch_size: int = Field(500, ge=1, le=10_000, description="Events per case-index catch-up transaction")
    case_page_size_max: int = Field(200, ge=1, le=1_000, description="Largest page a case list may ask for")
    return_notice_days: int = Field(7, ge=1, le=365, description="Default deadline of a 复学通知书, in days")
    correction_order_days: int = Field(15, ge=1, le=365, description="Default deadline of a 责令限期改正, in days")
    legal_documents_days: int = Field(30, ge=1, le=365, description="Default deadline of 司法文书, in days")
    deadline_on_missed: dict[str, str] = Field(
        default_factory=lambda: {"return_notice": "alert", "correction_order": "alert", "legal_documents": "alert"},
        description='Per step: "alert" (publish and queue the next step) or "escalate" (take the next step)',
    )
    follow_up_days: int = Field(30, ge=0, le=365, description="Follow-up period after a return before 销号")
    deadline_reminder_days: list[Annotated[int, Field(ge=1, le=90)]] = Field(
        default_factory=lambda: [3, 1],
        description="Owners are reminded this many days before a deadline (ladder steps, end of follow-up); [] for none",
    )
    closure_approval_prefixes: list[str] = Field(
        default_factory=list, description="Jurisdiction code prefixes where 销号 needs the county bureau's approval"
    )
    scheduler_interval_s: float = Field(2.0, gt=0, description="How often the scheduler looks for due deadlines")
    photo_max_bytes: int = Field(8_000_000, ge=1_000, le=50_000_000, description="Largest evidence photo upload")
    scheduler_batch_size: int = Field(100, ge=1, le=10_000, description="Due timers fired per scheduler pass")

    def case_policy(self) -> CasePolicy:
        return CasePolicy(
            deadline_days={"return_notice": self.return_notice_days, "correction_order": self.correction_order_days,
                           "legal_documents": self.legal_documents_days},
            on_missed=dict(self.deadline_on_missed),
            follow_up_days=self.follow_up_days,
            reminder_days=tuple(self.deadline_reminder_days),
            closure_approval_prefixes=tuple(self.closure_approval_prefixes),
            timezone=self.timezone,
        )
