"""Reporting baseline: its read-model and runtime tables exactly as the DDL strings of December 2026 built them.

Frozen: never edited (a change is a new revision; tests/migrations compares it with the DDL in the code).
"""

from services.runtime.migrations import execute_sql

revision = "reporting_0001"
down_revision = None
OTHER_SCHEMAS = ("bi",)  # the BI views live in their own schema

SQL = r'''
-- inbox, read models, their column migration, BI views (adapters/schema.py install)
CREATE TABLE IF NOT EXISTS inbox (
    topic text NOT NULL,
    sequence bigint NOT NULL,
    partition int NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    time timestamptz NOT NULL,
    effective_time timestamptz NOT NULL,
    envelope jsonb NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, sequence)
);
CREATE INDEX IF NOT EXISTS inbox_time ON inbox (time);
CREATE INDEX IF NOT EXISTS inbox_subject ON inbox (subject);
CREATE TABLE IF NOT EXISTS schools (school_id text, code text, name text, level text, county_code text, township_code text NOT NULL, status text NOT NULL, closed_on date, merged_into text, last_sequence bigint NOT NULL, PRIMARY KEY (school_id));
CREATE TABLE IF NOT EXISTS students (student_id text, school_id text, county_code text, township_code text NOT NULL, grade int, class_name text, name_masked text, id_number_masked text, enrolment text NOT NULL, enrolment_since date, placement text, disability_degree text, residency text NOT NULL, residency_since date, deferred_until date, special_groups text, head_teacher_id text, reg_sequence bigint NOT NULL, life_sequence bigint NOT NULL, PRIMARY KEY (student_id));
CREATE TABLE IF NOT EXISTS findings (finding_id text, kind text NOT NULL, student_id text NOT NULL, school_id text, township_code text NOT NULL, reason_code text, episode text, name_masked text, id_number_masked text, special_groups text, found_on date, status text NOT NULL, resolution text, found_at timestamptz, last_sequence bigint NOT NULL, PRIMARY KEY (finding_id));
CREATE TABLE IF NOT EXISTS school_days (school_id text, day date, township_code text NOT NULL, enrolled int, present int, on_leave int, absent int, last_sequence bigint NOT NULL, PRIMARY KEY (school_id, day));
CREATE TABLE IF NOT EXISTS absences (student_id text, day date, school_id text, township_code text NOT NULL, consecutive_school_days int, status text NOT NULL, reason text, last_sequence bigint NOT NULL, PRIMARY KEY (student_id, day));
CREATE TABLE IF NOT EXISTS suspected (detection_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL, first_absent_day date, last_absent_day date, absent_days int, rule text, threshold_days int, detected_at timestamptz, status text NOT NULL, resolved_day date, resolution text, last_sequence bigint NOT NULL, PRIMARY KEY (detection_id));
CREATE TABLE IF NOT EXISTS chronic_absences (flag_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL, term_start date, term_end date, term_school_days int, absent_days int, threshold_ratio double precision, flagged_at timestamptz, last_sequence bigint NOT NULL, status text NOT NULL, resolved_day date, resolution text, PRIMARY KEY (flag_id));
CREATE TABLE IF NOT EXISTS ledger (case_id text, student_id text NOT NULL, school_id text, township_code text NOT NULL, county_code text NOT NULL, source text NOT NULL, trigger_id text, status text NOT NULL, outcome text, not_dropout_reason text, causes text, gov_owners text, edu_owners text, legal_step text, deadline_at timestamptz, deadline_status text, opened_at timestamptz NOT NULL, verified_at timestamptz, returned_on date, follow_up_until date, closed_at timestamptz, close_reason text, excluded boolean NOT NULL, relapses int NOT NULL, latest_action text, latest_action_at timestamptz, last_event_at timestamptz NOT NULL, last_topic text NOT NULL, last_sequence bigint NOT NULL, PRIMARY KEY (case_id));
CREATE TABLE IF NOT EXISTS case_steps (topic text, sequence bigint, case_id text NOT NULL, township_code text NOT NULL, step text NOT NULL, at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, actor_role text, summary text NOT NULL, PRIMARY KEY (topic, sequence));
CREATE TABLE IF NOT EXISTS applied_positions (topic text, sequence bigint NOT NULL, event_time timestamptz NOT NULL, PRIMARY KEY (topic));
CREATE TABLE IF NOT EXISTS jurisdictions (code text, official_code text, name text, level text, parent_code text, established_on date, ended_on date, end_kind text, successor_code text, last_sequence bigint NOT NULL, PRIMARY KEY (code));
CREATE TABLE IF NOT EXISTS jurisdiction_names (code text, valid_from date, name text, last_sequence bigint NOT NULL, PRIMARY KEY (code, valid_from));
CREATE TABLE IF NOT EXISTS special_groups (student_id text, township_code text NOT NULL, groups text, detail text, last_sequence bigint NOT NULL, PRIMARY KEY (student_id));
CREATE TABLE IF NOT EXISTS school_moves (school_id text, effective date, from_township_code text NOT NULL, township_code text NOT NULL, county_code text, last_sequence bigint NOT NULL, PRIMARY KEY (school_id, effective));
CREATE TABLE IF NOT EXISTS dashboard_counts (unit text, parent text NOT NULL, measure text, key text, since int, until int, n bigint NOT NULL, PRIMARY KEY (unit, measure, key, since, until));
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

CREATE SCHEMA IF NOT EXISTS bi;
CREATE TABLE IF NOT EXISTS bi_readers (role_name text PRIMARY KEY);
CREATE OR REPLACE VIEW bi.dim_jurisdiction AS
  WITH codes AS (SELECT township_code AS c FROM reporting.schools UNION SELECT township_code FROM reporting.students
                 UNION SELECT township_code FROM reporting.ledger UNION SELECT township_code FROM reporting.findings),
  levels AS (SELECT substr(c, 1, n) AS code, n FROM codes, (VALUES (2), (4), (6), (9)) v(n) WHERE length(c) >= n
             UNION SELECT code, length(code) FROM reporting.jurisdictions),
  names AS (SELECT code, name, valid_from, lead(valid_from) OVER (PARTITION BY code ORDER BY valid_from) AS next_from
            FROM reporting.jurisdiction_names)
  SELECT lv.code AS jurisdiction_code,
         coalesce(j.level, CASE lv.n WHEN 2 THEN 'province' WHEN 4 THEN 'prefecture' WHEN 6 THEN 'county'
                  WHEN 9 THEN 'township' ELSE 'village' END) AS level,
         coalesce(j.parent_code, CASE lv.n WHEN 4 THEN substr(lv.code, 1, 2) WHEN 6 THEN substr(lv.code, 1, 4)
                  WHEN 9 THEN substr(lv.code, 1, 6) WHEN 12 THEN substr(lv.code, 1, 9) END) AS parent_code,
         lv.code AS township_code,
         nm.name, nm.valid_from, coalesce(nm.next_from, j.ended_on) AS valid_to,
         (nm.valid_from IS NULL OR nm.next_from IS NULL) AS is_latest,
         j.ended_on, j.end_kind, j.successor_code
  FROM levels lv LEFT JOIN reporting.jurisdictions j ON j.code = lv.code LEFT JOIN names nm ON nm.code = lv.code;
CREATE OR REPLACE VIEW bi.dim_school AS
  SELECT school_id, code AS school_code, name AS school_name, level AS school_level, county_code, township_code,
         status, closed_on FROM reporting.schools;
CREATE OR REPLACE VIEW bi.dim_date AS
  SELECT d::date AS date, extract(year FROM d)::int AS year, extract(month FROM d)::int AS month,
         to_char(d, 'YYYY-MM') AS year_month, extract(isodow FROM d)::int AS iso_weekday,
         CASE WHEN extract(month FROM d) >= 9 THEN extract(year FROM d)::int ELSE extract(year FROM d)::int - 1 END
           AS school_year
  FROM generate_series(date '2015-01-01', (now() + interval '1 year')::date, interval '1 day') d;
CREATE OR REPLACE VIEW bi.dim_cause AS
  SELECT * FROM (VALUES ('learning_difficulty', '学困厌学'), ('working_away', '外出打工'), ('poverty', '家庭贫困'),
    ('illness_or_disability', '疾病或残疾'), ('family', '家庭原因'), ('early_marriage', '早婚'),
    ('distance_or_conditions', '路远或办学条件'), ('other', '其他')) v(cause_code, cause_label);
CREATE OR REPLACE VIEW bi.dim_special_group AS
  WITH named AS (
    SELECT g AS special_group, township_code FROM reporting.findings, unnest(string_to_array(special_groups, ',')) g
    WHERE special_groups IS NOT NULL
    UNION SELECT g, township_code FROM reporting.special_groups, unnest(string_to_array(groups, ',')) g
    WHERE groups IS NOT NULL)
  SELECT DISTINCT n.special_group, n.township_code, v.label AS special_group_label
  FROM named n LEFT JOIN (VALUES ('left_behind', '留守儿童'), ('migrant', '随迁子女'), ('disabled', '残疾儿童'), ('orphan', '孤儿'),
    ('de_facto_unsupported', '事实无人抚养'), ('hardship', '困境儿童'), ('registered_poor', '建档立卡'),
    ('poverty_exit', '脱贫户'), ('monitored', '监测户'), ('marginal', '边缘户'), ('returning', '返乡儿童'),
    ('single_parent', '单亲家庭'), ('learning_difficulty', '学困生')) v(code, label) ON v.code = n.special_group;
CREATE OR REPLACE VIEW bi.fact_special_groups AS
  SELECT g.student_id, g.township_code, x->>'group' AS special_group, v.label AS special_group_label,
         (x->>'since')::date AS since, (x->>'until')::date AS until, x->>'source' AS source, x->>'degree' AS degree
  FROM reporting.special_groups g CROSS JOIN LATERAL jsonb_array_elements(g.detail::jsonb) x
  LEFT JOIN (VALUES ('left_behind', '留守儿童'), ('migrant', '随迁子女'), ('disabled', '残疾儿童'), ('orphan', '孤儿'),
    ('de_facto_unsupported', '事实无人抚养'), ('hardship', '困境儿童'), ('registered_poor', '建档立卡'),
    ('poverty_exit', '脱贫户'), ('monitored', '监测户'), ('marginal', '边缘户'), ('returning', '返乡儿童'),
    ('single_parent', '单亲家庭'), ('learning_difficulty', '学困生')) v(code, label) ON v.code = x->>'group';
CREATE OR REPLACE VIEW bi.fact_cases AS
  SELECT l.case_id, l.student_id, l.school_id, l.township_code, l.county_code, l.source, l.status AS stage,
         l.outcome, l.causes, l.not_dropout_reason, l.legal_step, l.deadline_at, l.deadline_status,
         l.opened_at, l.opened_at::date AS opened_date, l.verified_at, l.returned_on, l.closed_at, l.close_reason,
         l.excluded, l.relapses, st.grade, CASE WHEN st.grade <= 6 THEN 'primary' WHEN st.grade >= 7 THEN 'junior' END
           AS school_stage, l.last_sequence
  FROM reporting.ledger l LEFT JOIN reporting.students st USING (student_id);
CREATE OR REPLACE VIEW bi.fact_case_steps AS
  SELECT case_id, township_code, step, at, at::date AS step_date, recorded_at, actor_role, summary, topic, sequence
  FROM reporting.case_steps;
CREATE OR REPLACE VIEW bi.fact_absences AS
  SELECT student_id, school_id, township_code, day AS date, consecutive_school_days, status
  FROM reporting.absences;
CREATE OR REPLACE VIEW bi.fact_enrolment AS
  SELECT student_id, school_id, township_code, substr(township_code, 1, 6) AS county_code, grade,
         CASE WHEN grade <= 6 THEN 'primary' WHEN grade >= 7 THEN 'junior' END AS school_stage, enrolment,
         enrolment_since, placement, residency, name_masked, id_number_masked
  FROM reporting.students;
COMMENT ON SCHEMA bi IS '控辍保学 BI feed: facts (cases, case steps, absences, enrolment, special groups) and dimensions (jurisdiction, school, date, cause, special group); masked personal data only; derived, rebuilt with the reporting projections.';
COMMENT ON VIEW bi.fact_cases IS 'One row per case (一人一案): stage, causes, key dates; grade from the registration.';
COMMENT ON VIEW bi.fact_case_steps IS 'Every recorded step of every case (timeline), with when it happened and when it was recorded.';
COMMENT ON VIEW bi.fact_absences IS 'One row per student and school day absent without leave; retracted absences keep status retracted.';
COMMENT ON VIEW bi.fact_enrolment IS 'One row per child: registration (学籍) status, grade, placement, residency; masked name and ID.';
COMMENT ON VIEW bi.dim_jurisdiction IS 'Administrative divisions (registered by the registry, or seen in the data) with level, parent and names valid over time: one row per name, valid_from ≤ day < valid_to (valid_to: the next rename or the end of the division); merged/abolished divisions keep their end and successor. Codes are prefixes (province 2 digits, prefecture 4, county 6, township 9).';
COMMENT ON VIEW bi.dim_school IS 'Schools with their county and township.';
COMMENT ON VIEW bi.dim_date IS 'Calendar days from 2015 with month and school year (starting in September).';
COMMENT ON VIEW bi.dim_cause IS 'Dropout cause codes with their Chinese labels.';
COMMENT ON VIEW bi.dim_special_group IS 'Special groups (特殊群体) named in the data, per township, with their Chinese label.';
COMMENT ON VIEW bi.fact_special_groups IS 'One row per child and special-group membership (codes only; since/until, source department, disability degree), township of residence.';

-- monthly report index (adapters/report_index.py)
CREATE TABLE IF NOT EXISTS monthly_reports (
    report_id uuid PRIMARY KEY, month text NOT NULL, unit text NOT NULL, code text NOT NULL, school_id text,
    level text NOT NULL, name text NOT NULL, parent_unit text, status text NOT NULL, content_hash text NOT NULL,
    current_hash text NOT NULL, restatements int NOT NULL, sealed_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS monthly_reports_month_code ON monthly_reports (month, code text_pattern_ops);

-- runtime: read audit (runtime/readaudit.py)
CREATE TABLE IF NOT EXISTS read_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    actor_jurisdiction text NOT NULL,
    purpose text NOT NULL,
    view text NOT NULL,
    student_id text,
    case_id text,
    subject_jurisdiction text NOT NULL,
    correlation_id text
);
CREATE INDEX IF NOT EXISTS read_audit_student ON read_audit (student_id, at) WHERE student_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_case ON read_audit (case_id, at) WHERE case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_scope ON read_audit (subject_jurisdiction text_pattern_ops, at);
CREATE OR REPLACE FUNCTION read_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'read_audit is append-only';
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'read_audit_append_only'
                   AND tgrelid = 'read_audit'::regclass) THEN
        CREATE TRIGGER read_audit_append_only BEFORE UPDATE OR DELETE ON read_audit
            FOR EACH ROW EXECUTE FUNCTION read_audit_append_only();
    END IF;
END $$;
'''


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("read models are rebuilt from events, not downgraded")
