"""The IaC scan's decision (scripts/iac_scan.py), and one real run of SAM translator + checkov on a fixture.

`make iac` runs the scan on template.yaml; these tests show that it fails on what it must fail on.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.iac_scan import Finding, ScanError, Suppression, decide, format_verdict, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixture" / "template.yaml"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
CHECKOV = ROOT / ".venv-iac" / "bin" / "checkov"


def skip(check_id: str, comment: str = "a deliberate choice, explained") -> dict[str, str]:
    return {"id": check_id, "comment": comment}


def resource(kind: str, *, source: str | None = None, skips: list[dict[str, str]] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if source:
        metadata["iac-scan"] = {"source": source}
    if skips is not None:
        metadata["checkov"] = {"skip": skips}
    return {"Type": kind, "Properties": {}, "Metadata": metadata}


def result(check_id: str, kind: str, logical_id: str) -> dict[str, Any]:
    return {"check_id": check_id, "check_name": f"the {check_id} rule", "resource": f"{kind}.{logical_id}"}


def report(failed=(), skipped=(), passed: int = 3, resources: int = 2) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {"passed_checks": [], "failed_checks": list(failed), "skipped_checks": list(skipped)},
        "summary": {"passed": passed, "failed": len(failed), "skipped": len(skipped), "resource_count": resources},
    }


# A SAM function becomes a function and a role, both carrying the function's Metadata (as the transform does).
FUNCTION_SKIPS = [skip("CKV_AWS_117")]
CFN = {
    "Resources": {
        "Fn": resource("AWS::Lambda::Function", source="Fn", skips=FUNCTION_SKIPS),
        "FnRole": resource("AWS::IAM::Role", source="Fn", skips=FUNCTION_SKIPS),
        "Table": resource("AWS::DynamoDB::Table"),
    }
}
FN_SUPPRESSED = result("CKV_AWS_117", "AWS::Lambda::Function", "Fn")


def test_suppressed_findings_pass_and_count_once_per_template_resource():
    verdict = decide(CFN, report(skipped=[FN_SUPPRESSED]))
    assert verdict.ok
    assert verdict.suppressions == [Suppression("Fn", "CKV_AWS_117", "a deliberate choice, explained")]
    assert verdict.suppressed == [Finding("CKV_AWS_117", "Fn", "AWS::Lambda::Function", "Fn", "the CKV_AWS_117 rule")]
    assert "iac: OK" in format_verdict(verdict)


def test_a_finding_without_a_recorded_decision_fails_and_says_how_to_record_one():
    planted = result("CKV_AWS_28", "AWS::DynamoDB::Table", "Table")
    verdict = decide(CFN, report(failed=[planted], skipped=[FN_SUPPRESSED]))
    assert not verdict.ok
    assert [(f.check_id, f.resource, f.source) for f in verdict.failed] == [("CKV_AWS_28", "Table", "Table")]
    text = format_verdict(verdict)
    assert "CKV_AWS_28   Table (AWS::DynamoDB::Table)" in text
    assert '{id: CKV_AWS_28, comment: "<why, in one line>"}' in text


def test_a_finding_on_a_generated_resource_is_attributed_to_its_template_resource():
    on_role = result("CKV_AWS_111", "AWS::IAM::Role", "FnRole")
    verdict = decide(CFN, report(failed=[on_role], skipped=[FN_SUPPRESSED]))
    assert [(f.resource, f.source) for f in verdict.failed] == [("FnRole", "Fn")]
    assert "Fn (its generated AWS::IAM::Role FnRole)" in format_verdict(verdict)


@pytest.mark.parametrize("comment", ["", "   ", "ok", "No comment provided", "first line\nsecond line of it"])
def test_a_suppression_needs_a_one_line_reason(comment):
    cfn = {"Resources": {"Table": resource("AWS::DynamoDB::Table", skips=[skip("CKV_AWS_119", comment)])}}
    verdict = decide(cfn, report(skipped=[result("CKV_AWS_119", "AWS::DynamoDB::Table", "Table")], resources=1))
    assert not verdict.ok
    assert [(s.source, s.check_id) for s in verdict.unreasoned] == [("Table", "CKV_AWS_119")]
    assert "without a one-line reason" in format_verdict(verdict)


def test_a_suppression_that_suppressed_nothing_is_stale_and_fails():
    cfn = {"Resources": {"Table": resource("AWS::DynamoDB::Table", skips=[skip("CKV_AWS_27")])}}
    verdict = decide(cfn, report(resources=1))
    assert not verdict.ok
    assert [(s.source, s.check_id) for s in verdict.stale] == [("Table", "CKV_AWS_27")]
    assert "stale suppression, nothing to suppress (delete it): CKV_AWS_27 on Table" in format_verdict(verdict)


@pytest.mark.parametrize("checkov", [{"skip": "CKV_AWS_27"}, {"skip": [{"comment": "no id"}]}, ["CKV_AWS_27"]])
def test_a_malformed_suppression_fails(checkov):
    cfn = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Metadata": {"checkov": checkov}}}}
    assert decide(cfn, report(resources=1)).malformed


def test_a_report_that_scanned_nothing_is_an_error_not_a_pass():
    with pytest.raises(ScanError, match="no resource"):
        decide(CFN, report(passed=0, resources=0))
    with pytest.raises(ScanError, match="no cloudformation report"):
        decide(CFN, [{"check_type": "terraform"}])


def test_checkov_output_as_a_list_of_reports_is_read():
    assert decide(CFN, [{"check_type": "secrets"}, report(skipped=[FN_SUPPRESSED])]).ok


def test_a_custom_check_that_did_not_run_is_an_error():
    """checkov only logs a custom check that fails to load: the scan notices that it reported nothing."""
    custom = {"CKV_MPESA_1": "AWS::Lambda::Function"}
    ran = report(skipped=[FN_SUPPRESSED])
    ran["results"]["passed_checks"] = [result("CKV_MPESA_1", "AWS::Lambda::Function", "Fn")]
    assert decide(CFN, ran, custom).ok
    with pytest.raises(ScanError, match="did not run CKV_MPESA_1 on Fn"):
        decide(CFN, report(skipped=[FN_SUPPRESSED]), custom)


# -- the real tools -----------------------------------------------------------------------------------


@pytest.mark.skipif(not (SAM_PYTHON.exists() and CHECKOV.exists()), reason="needs .venv-sam and .venv-iac (make setup)")
def test_the_scan_fails_on_planted_findings_and_a_stale_suppression(tmp_path, capsys):
    code = main([str(FIXTURE), "--workdir", str(tmp_path), "--sam-python", str(SAM_PYTHON), "--checkov", str(CHECKOV)])
    out = capsys.readouterr().out
    assert code == 1, out
    # The planted findings, named with their check and resource: a table without point-in-time recovery
    # (checkov's CKV_AWS_28) and a function with no log group of its own (our CKV_MPESA_1).
    assert "CKV_AWS_28   Ledger (AWS::DynamoDB::Table)" in out
    assert "CKV_MPESA_1  Worker (AWS::Lambda::Function)" in out
    assert "2 failed" in out
    # The stale suppression is reported too; the function's four suppressions were all used.
    assert "stale suppression, nothing to suppress (delete it): CKV_AWS_27 on Ledger" in out
    assert out.count("stale suppression") == 1
    # SAM carried the function's Metadata to every resource it generated, each naming its source.
    cfn = json.loads((tmp_path / "template.json").read_text(encoding="utf-8"))
    generated = {k: v for k, v in cfn["Resources"].items() if v["Metadata"]["iac-scan"]["source"] == "Worker"}
    assert {v["Type"] for v in generated.values()} == {"AWS::Lambda::Function", "AWS::IAM::Role"}
    assert all(v["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_115" for v in generated.values())
