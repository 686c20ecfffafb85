"""Reporting read models (schema ``reporting``): derived from the inbox of events, droppable and rebuildable.

Each table is declared once (columns and key) so the live writer (SQL) and the rebuild (memory, then COPY)
write the same rows; the reducers in ``projectors`` decide what the rows say.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Table:
    """One read-model table: its name, typed columns and primary key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]

    @cached_property  # read per row written (``complete``, the upserts): computed once per table
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def ddl(self) -> str:
        cols = ", ".join(f"{c} {t}" for c, t in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, PRIMARY KEY ({', '.join(self.key)}));"


def _t(name: str, key: tuple[str, ...], spec: str) -> Table:
    cols = tuple(tuple(part.strip().split(" ", 1)) for part in spec.strip().split(",") if part.strip())
    return Table(name, cols, key)  # type: ignore[arg-type]


SCHOOLS = _t("schools", ("school_id",), """
    school_id text, code text, name text, level text, county_code text, township_code text NOT NULL,
    status text NOT NULL, closed_on date, merged_into text, last_sequence bigint NOT NULL""")
STUDENTS = _t("students", ("student_id",), """
    student_id text, school_id text, county_code text, township_code text NOT NULL, grade int, class_name text,
    name_masked text, id_number_masked text, enrolment text NOT NULL, enrolment_since date, placement text,
    disability_degree text, residency text NOT NULL, residency_since date, deferred_until date,
    special_groups text, head_teacher_id text, reg_sequence bigint NOT NULL, life_sequence bigint NOT NULL""")
FINDINGS = _t("findings", ("finding_id",), """
    finding_id text, kind text NOT NULL, student_id text NOT NULL, school_id text, township_code text NOT NULL,
    reason_code text, episode text, name_masked text, id_number_masked text, special_groups text,
    found_on date, status text NOT NULL, resolution text, found_at timestamptz, last_sequence bigint NOT NULL""")
SCHOOL_DAYS = _t("school_days", ("school_id", "day"), """
    school_id text, day date, township_code text NOT NULL, enrolled int, present int, on_leave int, absent int,
    last_sequence bigint NOT NULL""")
ABSENCES = _t("absences", ("student_id", "day"), """
    student_id text, day date, school_id text, township_code text NOT NULL, consecutive_school_days int,
    status text NOT NULL, reason text, last_sequence bigint NOT NULL""")
SUSPECTED = _t("suspected", ("detection_id",), """
    detection_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL,
    first_absent_day date, last_absent_day date, absent_days int, rule text, threshold_days int,
    detected_at timestamptz, status text NOT NULL, resolved_day date, resolution text, last_sequence bigint NOT NULL""")
CHRONIC = _t("chronic_absences", ("flag_id",), """
    flag_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL, term_start date,
    term_end date, term_school_days int, absent_days int, threshold_ratio double precision,
    flagged_at timestamptz, last_sequence bigint NOT NULL, status text NOT NULL, resolved_day date,
    resolution text""")
LEDGER = _t("ledger", ("case_id",), """
    case_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL, county_code text NOT NULL,
    source text NOT NULL, trigger_id text, status text NOT NULL, outcome text, not_dropout_reason text, causes text,
    gov_owners text, edu_owners text, legal_step text, deadline_at timestamptz, deadline_status text,
    opened_at timestamptz NOT NULL, verified_at timestamptz, returned_on date, follow_up_until date,
    closed_at timestamptz, close_reason text, excluded boolean NOT NULL, relapses int NOT NULL,
    latest_action text, latest_action_at timestamptz, last_event_at timestamptz NOT NULL, last_topic text NOT NULL,
    last_sequence bigint NOT NULL, visits int, last_visit_at timestamptz, persuasions int,
    last_persuasion_outcome text, help_kinds text, legal_document_no text""")
CASE_STEPS = _t("case_steps", ("topic", "sequence"), """
    topic text, sequence bigint, case_id text NOT NULL, township_code text NOT NULL, step text NOT NULL,
    at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, actor_role text, summary text NOT NULL""")
JURISDICTIONS = _t("jurisdictions", ("code",), """
    code text, official_code text, name text, level text, parent_code text, established_on date, ended_on date,
    end_kind text, successor_code text, last_sequence bigint NOT NULL""")
JURISDICTION_NAMES = _t("jurisdiction_names", ("code", "valid_from"), """
    code text, valid_from date, name text, last_sequence bigint NOT NULL""")
SPECIAL_GROUPS = _t("special_groups", ("student_id",), """
    student_id text, township_code text NOT NULL, groups text, detail text, last_sequence bigint NOT NULL""")
POSITIONS = _t("applied_positions", ("topic",), """
    topic text, sequence bigint NOT NULL, event_time timestamptz NOT NULL""")
SCHOOL_MOVES = _t("school_moves", ("school_id", "effective"), """
    school_id text, effective date, from_township_code text NOT NULL, township_code text NOT NULL,
    county_code text, last_sequence bigint NOT NULL""")
# Dashboard counters (``counters``): per unit (52, 5201, 520102, 520102001, and a leaf "520102001|school") and
# measure, the count valid on days since <= day < until (day ordinals), kept in the same transaction as the rows.
DASHBOARD_COUNTS = _t("dashboard_counts", ("unit", "measure", "key", "since", "until"), """
    unit text, parent text NOT NULL, measure text, key text, since int, until int, n bigint NOT NULL""")

READ_MODELS: tuple[Table, ...] = (
    SCHOOLS, STUDENTS, FINDINGS, SCHOOL_DAYS, ABSENCES, SUSPECTED, CHRONIC, LEDGER, CASE_STEPS, POSITIONS,
    JURISDICTIONS, JURISDICTION_NAMES, SPECIAL_GROUPS, SCHOOL_MOVES, DASHBOARD_COUNTS,
)
BY_NAME = {t.name: t for t in READ_MODELS}
TABLES = tuple(t.name for t in READ_MODELS)

INDEXES = """
CREATE INDEX IF NOT EXISTS schools_township ON schools (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS students_township ON students (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS findings_township ON findings (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS absences_township_day ON absences (township_code text_pattern_ops, day);
CREATE INDEX IF NOT EXISTS suspected_township ON suspected (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS ledger_township_opened ON ledger (township_code text_pattern_ops, opened_at DESC);
CREATE INDEX IF NOT EXISTS ledger_county_status ON ledger (county_code, status);
CREATE INDEX IF NOT EXISTS case_steps_case ON case_steps (case_id, at);
CREATE INDEX IF NOT EXISTS special_groups_township ON special_groups (township_code text_pattern_ops);
CREATE INDEX IF NOT EXISTS ledger_student ON ledger (student_id);
CREATE INDEX IF NOT EXISTS findings_student ON findings (student_id);
CREATE INDEX IF NOT EXISTS ledger_pending_deadline ON ledger (deadline_at) WHERE deadline_status = 'pending';
CREATE INDEX IF NOT EXISTS dashboard_counts_parent ON dashboard_counts (parent);
"""



# Columns added to tables that existing databases already have (``CREATE TABLE IF NOT EXISTS`` keeps the old
# shape): added once, and the events the read model ignored before are applied from the inbox in the same step.
MIGRATIONS = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                 AND table_name = 'chronic_absences' AND column_name = 'status') THEN
    -- ChronicAbsenceRetracted.v1 (flags withdrawn): a status; the retractions already in the inbox apply now
    ALTER TABLE chronic_absences ADD COLUMN status text NOT NULL DEFAULT 'open', ADD COLUMN resolved_day date,
      ADD COLUMN resolution text;
    ALTER TABLE chronic_absences ALTER COLUMN status DROP DEFAULT;
    UPDATE chronic_absences c SET status = 'retracted', resolved_day = (i.payload->>'corrected_day')::date,
           resolution = i.payload->>'reason', last_sequence = i.sequence
      FROM inbox i WHERE i.type = 'cn.baoxue.attendance.ChronicAbsenceRetracted.v1'
       AND i.payload->>'flag_id' = c.flag_id AND i.sequence > c.last_sequence;
  END IF;
END $$;
-- issue 12 (every case action a public event): the work-record columns of the case ledger; the events that fill
-- them are new contracts, so no stored inbox event is missed
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS visits int, ADD COLUMN IF NOT EXISTS last_visit_at timestamptz,
  ADD COLUMN IF NOT EXISTS persuasions int, ADD COLUMN IF NOT EXISTS last_persuasion_outcome text,
  ADD COLUMN IF NOT EXISTS help_kinds text, ADD COLUMN IF NOT EXISTS legal_document_no text;
"""


def ddl() -> str:
    """Every read-model table and index."""
    return "\n".join(t.ddl() for t in READ_MODELS) + INDEXES


def county_of(township_code: str) -> str:
    """The county (县) of a township code: its first six digits."""
    return township_code[:6]
