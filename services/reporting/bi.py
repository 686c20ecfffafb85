"""The BI feed: a documented ``bi`` schema of views over the read models (masked personal data only), readable
by a read-only role, plus the dataset list the JSON API serves."""

from __future__ import annotations

import psycopg
from psycopg import sql

DDL = """
CREATE SCHEMA IF NOT EXISTS bi;
CREATE TABLE IF NOT EXISTS bi_readers (role_name text PRIMARY KEY);
CREATE OR REPLACE VIEW bi.dim_jurisdiction AS
  WITH codes AS (SELECT township_code AS c FROM reporting.schools UNION SELECT township_code FROM reporting.students
                 UNION SELECT township_code FROM reporting.ledger UNION SELECT township_code FROM reporting.findings),
  levels AS (SELECT DISTINCT substr(c, 1, n) AS code, n FROM codes, (VALUES (2), (4), (6), (9)) v(n) WHERE length(c) >= n)
  SELECT code AS jurisdiction_code, CASE n WHEN 2 THEN 'province' WHEN 4 THEN 'prefecture' WHEN 6 THEN 'county'
         ELSE 'township' END AS level, CASE WHEN n > 2 THEN substr(code, 1, n - 2 - (n = 9)::int) END AS parent_code,
         code AS township_code
  FROM levels;
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
  SELECT DISTINCT g AS special_group, township_code FROM reporting.findings,
    unnest(string_to_array(special_groups, ',')) g WHERE special_groups IS NOT NULL;
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
COMMENT ON SCHEMA bi IS '控辍保学 BI feed: facts (cases, case steps, absences, enrolment) and dimensions (jurisdiction, school, date, cause, special group); masked personal data only; derived, rebuilt with the reporting projections.';
COMMENT ON VIEW bi.fact_cases IS 'One row per case (一人一案): stage, causes, key dates; grade from the registration.';
COMMENT ON VIEW bi.fact_case_steps IS 'Every recorded step of every case (timeline), with when it happened and when it was recorded.';
COMMENT ON VIEW bi.fact_absences IS 'One row per student and school day absent without leave; retracted absences keep status retracted.';
COMMENT ON VIEW bi.fact_enrolment IS 'One row per child: registration (学籍) status, grade, placement, residency; masked name and ID.';
COMMENT ON VIEW bi.dim_jurisdiction IS 'Administrative division codes seen in the data, with level and parent (code prefix).';
COMMENT ON VIEW bi.dim_school IS 'Schools with their county and township.';
COMMENT ON VIEW bi.dim_date IS 'Calendar days from 2015 with month and school year (starting in September).';
COMMENT ON VIEW bi.dim_cause IS 'Dropout cause codes with their Chinese labels.';
COMMENT ON VIEW bi.dim_special_group IS 'Special groups (特殊群体) named in the data, per township.';
"""

DATASETS = {
    "fact_cases": "case_id", "fact_case_steps": "at, sequence", "fact_absences": "date, student_id",
    "fact_enrolment": "student_id", "dim_jurisdiction": "jurisdiction_code", "dim_school": "school_id",
    "dim_cause": "cause_code", "dim_date": "date", "dim_special_group": "special_group, township_code",
}
UNSCOPED = {"dim_cause", "dim_date"}


def regrant(conn: psycopg.Connection) -> None:
    """Gives every registered BI reader SELECT on the (re)created views."""
    conn.execute("DELETE FROM bi_readers WHERE role_name NOT IN (SELECT rolname FROM pg_roles)")  # dropped since
    for row in conn.execute("SELECT role_name FROM bi_readers").fetchall():
        role = sql.Identifier(row["role_name"])
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA bi TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA bi TO {}").format(role))


def create_reader(conn: psycopg.Connection, role: str, password: str) -> None:
    """Creates (or updates) a login role that can only read the ``bi`` schema."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
        sql.Identifier(role), sql.Literal(password)))
    conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(role)))
    conn.execute(sql.SQL("ALTER ROLE {} SET search_path = bi").format(sql.Identifier(role)))
    conn.execute("INSERT INTO bi_readers VALUES (%s) ON CONFLICT DO NOTHING", (role,))
    regrant(conn)
