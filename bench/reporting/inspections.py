"""Rough figures of reporting's inspections: 1,000 findings recorded and ordered, the timer's reminders and
escalations over them, the 通报 PDF (`python -m bench.reporting.inspections [DATABASE_URL]`)."""
import sys
import time
from datetime import date, datetime, timezone
from services.reporting.adapters.inspection_index import InspectionIndex
from services.reporting.adapters import notice_pdf
from services.reporting.application.inspections import Inspections, InspectionsApplication
from services.reporting.settings import ReportingSettings
from services.runtime.auth import Actor
from services.runtime.clock import FixedClock
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.scratchdb import fresh_database



def main(url: str) -> None:
    with fresh_database(url, "insp") as url:
        settings = ReportingSettings(database_url=url, env="test")
        db = Database(url, "reporting")
        clock = FixedClock(datetime(2026, 3, 1, 2, tzinfo=timezone.utc))
        db.execute_script("CREATE TABLE IF NOT EXISTS schools (school_id text, name text); CREATE TABLE IF NOT EXISTS jurisdiction_names (code text, valid_from date, name text);")
        u = Inspections(build_application(InspectionsApplication, settings, "reporting"), InspectionIndex(db), clock)
        a = Actor(user_id="c", role="county_officer", jurisdiction="52")
        t = time.perf_counter()
        for n in range(50):
            iid = u.plan(a, f"k{n}", "52", "督导", date(2026, 3, 1))["inspection_id"]
            for k in range(20):
                u.record_finding(a, iid, f"f{k}", f"5201{n % 9:02d}00{k % 9 + 1}", None, "owner_missing", "general", [])
                u.order(a, iid, f"f{k}", date(2026, 3, 10))
        print(f"setup 1,000 findings (record + order, 2,000 commands): {time.perf_counter() - t:.1f} s")
        for day, label in ((7, "reminders"), (11, "escalations")):
            clock.set(datetime(2026, 3, day, 2, tzinfo=timezone.utc))
            t = time.perf_counter(); r = u.tick(); dt = time.perf_counter() - t
            print(f"tick with 1,000 {label}: {dt:.2f} s {r}")
            t = time.perf_counter(); r = u.tick(); print(f"  same day again: {time.perf_counter() - t:.3f} s {r}")
        rows = u.index.findings("52", None, date(2026, 3, 11))
        t = time.perf_counter(); pdf = notice_pdf.render(notice_pdf.listing(rows, "52", date(2026, 3, 11)))
        print(f"通报 PDF of {len(rows)} findings: {time.perf_counter() - t:.2f} s, {len(pdf) // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://root@127.0.0.1:5432/test")
