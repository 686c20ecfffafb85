"""The comparisons (四查三比对) over the read model, recorded as identify / retract events in batches; the
thresholds per jurisdiction."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from services.registry.adapters.bulk import BulkWriter
from services.registry.adapters.readmodel.rows import to_child_row, to_student_row
from services.registry.application.base import UseCase
from services.registry.domain.comparisons import (
    KINDS,
    Finding,
    Rules,
    Verdict,
    census,
    finding_id_for,
    transfers,
    transitions,
)
from services.registry.domain.configuration import ComparisonRuleSet, RuleBook, rule_set_id, rules_body, rules_from_body
from services.registry.domain.errors import InvalidInput


class Comparisons(UseCase):
    """Runs the comparisons; reads and sets each jurisdiction's comparison rules."""

    def run_comparisons(self, *, prefix: str, as_of: date, rules: Rules, meta: dict[str, Any],
                        kinds: Iterable[str] = KINDS) -> dict[str, dict[str, int]]:
        """Runs the comparisons; `rules` is the default, each jurisdiction's own rules (if set) win for its children."""
        self.index.catch_up(self.store)
        book = self.rule_book(rules)
        summary = {}
        for kind in kinds:
            if kind not in KINDS:
                raise InvalidInput(f"比对类型无效: {kind}", rule="finding_kind")
            verdicts, names = self._verdicts(kind, prefix, as_of, book)
            summary[kind] = self._record_verdicts(verdicts, names, meta)
        self.index.catch_up(self.store)
        return summary

    # -- thresholds per jurisdiction (configuration, versioned) --------------------------------------
    def rule_book(self, default: Rules) -> RuleBook:
        """The default rules and every jurisdiction's own, as recorded (read model, caught up by the caller)."""
        configured = {r["jurisdiction"]: rules_from_body(r["body"], version=r["rules_version"],
                                                         jurisdiction=r["jurisdiction"], default=default)
                      for _, r in self.index.rows("rule_index", "", field="jurisdiction")}
        return RuleBook(default, configured)

    def comparison_rules(self, code: str, default: Rules) -> Rules:
        """The rules that apply to a code: the most specific jurisdiction's own, else the default."""
        self.index.catch_up(self.store)
        return self.rule_book(default).for_code(code)

    def set_comparison_rules(self, *, jurisdiction: str, body: dict[str, Any], default: Rules,
                             meta: dict[str, Any]) -> Rules:
        """A jurisdiction sets its thresholds (unset keys: the default); a new version only when they change.

        The body recorded is complete, so a later change of the deployment default does not alter it."""
        existing = self._get(ComparisonRuleSet, rule_set_id(jurisdiction))
        version = 2 if existing is None else existing.rules_version + 1
        rules = rules_from_body(body, version=version, jurisdiction=jurisdiction, default=default)
        recorded = rules_body(rules)
        if existing is None:
            existing = ComparisonRuleSet(jurisdiction=jurisdiction, body=recorded, meta=meta)
        elif not existing.change(body=recorded, meta=meta):
            return rules_from_body(existing.body, version=existing.rules_version, jurisdiction=jurisdiction,
                                   default=default)
        self.store.save(existing)
        return rules

    def _verdicts(self, kind: str, prefix: str, as_of: date, rules: Any) -> tuple[list[Verdict], dict[str, Any]]:
        index = self.index
        if kind == "out_of_school":
            # a child with a registration that is not closed and no open finding is accounted for, whatever else holds
            # (see comparisons._accounted_for): only the others are read and judged
            rows = dict(index.census_candidates(prefix))
            elsewhere = index.open_findings(kind, prefix=prefix)  # found here, the child since moved
            missing = {f.student_id for f in elsewhere.values()} - {r["student_id"] for r in rows.values()}
            if missing:
                rows.update({k: r for k, r in index.rows("child_index", "") if r["student_id"] in missing})
            children = [to_child_row(r) for r in rows.values()]
            names = {r["student_id"]: (r.get("name_masked"), r.get("id_number_masked")) for r in rows.values()}
            sids = [c.student_id for c in children]
            students = {k: to_student_row(r, k) for k, r in self._existing("student_index", sids).items()}
            return census(children, students, index.open_findings(kind, sids), as_of, rules), names
        wanted = "transferring_out" if kind == "transfer_lost" else "graduated_primary"
        rows = dict(index.rows("student_index", prefix, status=wanted))
        open_findings = index.open_findings(kind, prefix=prefix)  # includes children who since moved away
        open_findings.update(index.open_findings(kind, list(rows)))
        rows.update(self._existing("student_index", [s for s in open_findings if s not in rows]))
        students = [to_student_row(r, k) for k, r in rows.items()]
        rule = transfers if kind == "transfer_lost" else transitions
        return rule(students, open_findings, as_of, rules), {}

    def _record_verdicts(self, verdicts: list[Verdict], names: dict[str, Any], meta: dict[str, Any]) -> dict[str, int]:
        writer = BulkWriter(self.store)
        counts = {"identified": 0, "retracted": 0}
        try:
            for v in verdicts:
                fid = finding_id_for(v.kind, v.student_id, v.episode)
                evidence = {**v.evidence, "kind": v.kind, "student_id": v.student_id, "school_id": v.school_id,
                            "episode": v.episode, "township_code": v.township_code}
                if v.kind == "out_of_school" and v.student_id in names:
                    masked_name, masked_id = names[v.student_id]
                    evidence.update(name_masked=masked_name or "*", id_number_masked=masked_id or "*")
                finding = self._get(Finding, fid)
                if v.reason_code is not None:
                    if finding is None:
                        writer.created(Finding, Finding.Identified, fid, {
                            "kind": v.kind, "episode": v.episode, "student_id": v.student_id,
                            "school_id": v.school_id, "township_code": v.township_code,
                            "reason_code": v.reason_code, "evidence": evidence, "meta": meta})
                        counts["identified"] += 1
                    elif finding.reidentify(reason_code=v.reason_code, evidence=evidence,
                                            township_code=v.township_code, meta=meta):
                        writer.aggregates(finding)
                        counts["identified"] += 1
                elif finding is not None:
                    evidence["township_code"] = finding.township_code
                    if finding.retract(reason_code=v.retract_reason or "corrected", evidence=evidence, meta=meta):
                        writer.aggregates(finding)
                        counts["retracted"] += 1
        finally:
            writer.close()
        return counts
