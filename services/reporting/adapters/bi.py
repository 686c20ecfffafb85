"""The BI feed: a documented ``bi`` schema of views over the read models (masked personal data only), readable
by a read-only role, plus the dataset list the JSON API serves."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

DDL = """
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
"""

DATASETS = {
    "fact_cases": "case_id", "fact_case_steps": "at, sequence", "fact_absences": "date, student_id",
    "fact_enrolment": "student_id", "fact_special_groups": "student_id, special_group, since",
    "dim_jurisdiction": "jurisdiction_code, valid_from", "dim_school": "school_id",
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


def datasets(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The BI views and their descriptions."""
    return conn.execute(
        "SELECT c.relname AS name, obj_description(c.oid) AS description FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bi' AND c.relkind = 'v' "
        "ORDER BY c.relname").fetchall()


def page_of(conn: psycopg.Connection, dataset: str, scope: Any, page: int, page_size: int) -> list[dict[str, Any]]:
    """One page of a known dataset inside the scope (dimensions of divisions: the scope's jurisdiction only)."""
    where, params = ("true", {}) if dataset in UNSCOPED else scope.where("x")
    if dataset in ("dim_jurisdiction", "dim_special_group") and scope.schools is not None:
        where, params = "x.township_code LIKE %(scope)s", {"scope": scope.jurisdiction + "%"}
    params.update(limit=page_size, offset=(page - 1) * page_size)
    order = DATASETS.get(dataset, "date")
    return conn.execute(
        f"SELECT * FROM bi.{dataset} x WHERE {where} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s",
        params).fetchall()
