"""IaC scan: checkov on the SAM-transformed template; every finding is fixed or suppressed with a reason.

    make iac
    # = .venv-iac/bin/python scripts/iac_scan.py --sam-python .venv-sam/bin/python \
    #       --checkov .venv-iac/bin/checkov template.yaml

1. scripts/sam_transform.py (SAM CLI's translator, offline) turns template.yaml into the CloudFormation
   that would be deployed, in <workdir>/template.json; each resource SAM generates carries the Metadata of
   the template resource it came from, and names it (Metadata `iac-scan: {source: ...}`).
2. checkov scans that JSON (framework cloudformation, no network), into <workdir>/checkov.json, with its
   own checks and ours (scripts/checkov_checks: CKV_MPESA_1, every function logs to a template log group).
3. The decision, made here and not by checkov's exit code, fails the build on:
   - a failed check: a finding with no recorded decision (fix it, or suppress it with a reason);
   - a suppression without a one-line reason;
   - a stale suppression: one that suppressed nothing (the finding is gone: delete the line).

A suppression is written on the resource in template.yaml, one line of reason each:

    Metadata:
      checkov:
        skip:
          - {id: CKV_AWS_117, comment: "why this is the deliberate choice"}

On an AWS::Serverless::* resource it covers every resource SAM generates from it (the function, its
role, permissions, schedule...). This module uses the standard library only, so the tests import it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE_KEY = "iac-scan"  # written by scripts/sam_transform.py
MIN_REASON_CHARS = 10
# Offline and quiet: no policy download, no update check against the package index.
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}
CUSTOM_CHECKS_DIR = ROOT / "scripts" / "checkov_checks"
# Our checks and the resource type each judges. checkov only logs a check that fails to load, so the scan
# makes sure each one reported on every resource of its type.
CUSTOM_CHECKS = {"CKV_MPESA_1": "AWS::Lambda::Function"}


class ScanError(Exception):
    """The scan could not run (a tool failed, or produced nothing to judge)."""


@dataclass(frozen=True, order=True)
class Finding:
    check_id: str
    resource: str  # logical id in the transformed template
    resource_type: str
    source: str  # logical id in template.yaml that the resource came from
    check_name: str = ""


@dataclass(frozen=True, order=True)
class Suppression:
    source: str
    check_id: str
    comment: str


@dataclass
class Verdict:
    resources: int = 0
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)  # as written in the template
    unreasoned: list[Suppression] = field(default_factory=list)
    stale: list[Suppression] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.unreasoned or self.stale or self.malformed)


# -- reading ----------------------------------------------------------------------------------------


def source_of(cfn: Mapping[str, Any], logical_id: str) -> str:
    metadata = (cfn.get("Resources", {}).get(logical_id) or {}).get("Metadata") or {}
    marker = metadata.get(SOURCE_KEY)
    if isinstance(marker, dict) and isinstance(marker.get("source"), str):
        return str(marker["source"])
    return logical_id


def declared_suppressions(cfn: Mapping[str, Any]) -> tuple[dict[tuple[str, str], str], list[str]]:
    """(source, check id) -> reason, for every checkov skip written in the template; and malformed entries.

    SAM copies a resource's Metadata to each resource it generates, so the same entry is seen once per
    generated resource: it is one suppression, keyed by the template resource it is written on.
    """
    declared: dict[tuple[str, str], str] = {}
    malformed: list[str] = []
    for logical_id, resource in (cfn.get("Resources") or {}).items():
        metadata = (resource or {}).get("Metadata") or {}
        checkov = metadata.get("checkov")
        if checkov is None:
            continue
        source = source_of(cfn, logical_id)
        skips = checkov.get("skip") if isinstance(checkov, dict) else None
        if not isinstance(skips, list):
            malformed.append(f"{source}: Metadata.checkov must be {{skip: [{{id: ..., comment: ...}}]}}")
            continue
        for entry in skips:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
                malformed.append(f"{source}: a checkov skip entry without an id: {entry!r}")
                continue
            comment = entry.get("comment")
            declared[(source, entry["id"].strip())] = comment if isinstance(comment, str) else ""
    return declared, sorted(set(malformed))


def checkov_results(report: Any) -> Mapping[str, Any]:
    """The cloudformation part of checkov's JSON output (an object, or a list of one per framework)."""
    reports = report if isinstance(report, list) else [report]
    for item in reports:
        if isinstance(item, dict) and item.get("check_type", "cloudformation") == "cloudformation":
            return item
    raise ScanError("checkov's output has no cloudformation report")


def _finding(cfn: Mapping[str, Any], result: Mapping[str, Any]) -> Finding:
    resource_type, _, logical_id = str(result.get("resource", "")).partition(".")
    return Finding(
        check_id=str(result.get("check_id")),
        resource=logical_id,
        resource_type=resource_type,
        source=source_of(cfn, logical_id),
        check_name=str(result.get("check_name", "")),
    )


# -- deciding ---------------------------------------------------------------------------------------


def is_reason(comment: str) -> bool:
    text = comment.strip()
    return len(text) >= MIN_REASON_CHARS and "\n" not in text and text.lower() != "no comment provided"


def _check_ran(cfn: Mapping[str, Any], results: Mapping[str, Any], check_id: str, resource_type: str) -> None:
    expected = {lid for lid, r in (cfn.get("Resources") or {}).items() if (r or {}).get("Type") == resource_type}
    reported = {
        _finding(cfn, r).resource
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for r in results.get(kind) or []
        if r.get("check_id") == check_id
    }
    if expected - reported:
        missing = ", ".join(sorted(expected - reported))
        raise ScanError(f"checkov did not run {check_id} on {missing} (did scripts/checkov_checks load?)")


def decide(cfn: Mapping[str, Any], report: Any, custom_checks: Mapping[str, str] | None = None) -> Verdict:
    """Judge checkov's report on the transformed template `cfn` (both as parsed JSON)."""
    part = checkov_results(report)
    summary = part.get("summary") or {}
    results = part.get("results") or {}
    verdict = Verdict(resources=int(summary.get("resource_count", 0)), passed=int(summary.get("passed", 0)))
    if verdict.resources == 0 and cfn.get("Resources"):
        raise ScanError("checkov scanned no resource of a template that has some")
    for check_id, resource_type in (custom_checks or {}).items():
        _check_ran(cfn, results, check_id, resource_type)
    declared, verdict.malformed = declared_suppressions(cfn)
    verdict.failed = sorted(_finding(cfn, r) for r in results.get("failed_checks") or [])
    verdict.suppressed = sorted(_finding(cfn, r) for r in results.get("skipped_checks") or [])
    used = {(f.source, f.check_id) for f in verdict.suppressed}
    for (source, check_id), comment in sorted(declared.items()):
        suppression = Suppression(source, check_id, comment)
        verdict.suppressions.append(suppression)
        if not is_reason(comment):
            verdict.unreasoned.append(suppression)
        if (source, check_id) not in used:
            verdict.stale.append(suppression)
    return verdict


# -- reporting --------------------------------------------------------------------------------------


def _where(finding: Finding) -> str:
    if finding.source == finding.resource:
        return f"{finding.resource} ({finding.resource_type})"
    return f"{finding.source} (its generated {finding.resource_type} {finding.resource})"


def format_verdict(verdict: Verdict, *, list_suppressions: bool = False) -> str:
    lines: list[str] = []
    by_check = Counter(f.check_id for f in verdict.suppressed)
    lines.append(
        f"iac: checkov on the SAM-transformed template: {verdict.resources} resources, {verdict.passed} checks "
        f"passed, {len(verdict.suppressed)} suppressed ({len(verdict.suppressions)} suppressions in the template), "
        f"{len(verdict.failed)} failed"
    )
    if by_check:
        lines.append("iac: suppressed by check: " + ", ".join(f"{k} x{v}" for k, v in sorted(by_check.items())))
    if list_suppressions:
        for suppression in sorted(verdict.suppressions, key=lambda s: (s.check_id, s.source)):
            lines.append(f"  {suppression.check_id:<12} {suppression.source:<24} {suppression.comment}")
    if verdict.failed:
        lines.append(
            f"iac: FAILED: {len(verdict.failed)} finding(s) with no recorded decision. Fix the template, or, if it "
            "is the deliberate choice, suppress it on the resource in template.yaml with a one-line reason:"
        )
        for finding in verdict.failed:
            lines.append(f"  {finding.check_id:<12} {_where(finding)}: {finding.check_name}")
            lines.append(
                f"      under {finding.source}:  Metadata: {{checkov: {{skip: [{{id: {finding.check_id}, "
                'comment: "<why, in one line>"}]}}'
            )
    for suppression in verdict.unreasoned:
        lines.append(
            f"iac: FAILED: suppression without a one-line reason (at least {MIN_REASON_CHARS} characters): "
            f"{suppression.check_id} on {suppression.source}"
        )
    for suppression in verdict.stale:
        lines.append(
            f"iac: FAILED: stale suppression, nothing to suppress (delete it): "
            f"{suppression.check_id} on {suppression.source}"
        )
    lines.extend(f"iac: FAILED: {problem}" for problem in verdict.malformed)
    lines.append("iac: OK" if verdict.ok else "iac: the scan fails (docs/decisions.md, 'IaC scan')")
    return "\n".join(lines)


# -- running the tools ------------------------------------------------------------------------------


def transform(sam_python: Path, template: Path, target: Path) -> dict[str, Any]:
    script = ROOT / "scripts" / "sam_transform.py"
    done = subprocess.run(
        [str(sam_python), str(script), str(template), str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ScanError(f"the SAM transform failed:\n{done.stderr.strip() or done.stdout.strip()}")
    loaded: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return loaded


def run_checkov(checkov: Path, cfn_json: Path, output: Path) -> Any:
    command = [
        str(checkov),
        "--file",
        str(cfn_json),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--external-checks-dir",
        str(CUSTOM_CHECKS_DIR),
        "--output",
        "json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **CHECKOV_ENV})
    # 0: nothing failed, 1: something failed; anything else is checkov itself failing.
    if done.returncode not in (0, 1):
        raise ScanError(f"checkov exited {done.returncode}:\n{done.stderr.strip()[-2000:]}")
    output.write_text(done.stdout, encoding="utf-8")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ScanError(f"checkov's output is not JSON ({exc}):\n{done.stdout[:500]}") from exc


def scan(template: Path, workdir: Path, sam_python: Path, checkov: Path) -> Verdict:
    workdir.mkdir(parents=True, exist_ok=True)
    cfn_json = workdir / "template.json"
    cfn = transform(sam_python, template, cfn_json)
    report = run_checkov(checkov, cfn_json, workdir / "checkov.json")
    return decide(cfn, report, CUSTOM_CHECKS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path, nargs="?", default=ROOT / "template.yaml")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".aws-sam" / "iac")
    parser.add_argument("--sam-python", type=Path, default=ROOT / ".venv-sam" / "bin" / "python")
    parser.add_argument("--checkov", type=Path, default=ROOT / ".venv-iac" / "bin" / "checkov")
    parser.add_argument("--list", action="store_true", help="list every suppression")
    args = parser.parse_args(argv)
    try:
        verdict = scan(args.template, args.workdir, args.sam_python, args.checkov)
    except (ScanError, OSError) as exc:
        print(f"iac: the scan could not run: {exc}", file=sys.stderr)
        return 2
    print(format_verdict(verdict, list_suppressions=args.list))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
