"""The operations dashboard and alarms read metrics the code really emits, and the dashboard is JSON."""

import json
import re
from pathlib import Path

from local.cfn import load_template
from mpesa.records import Kind, Status

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
NAMESPACE = "MpesaPayments"


def emitted_names() -> set[str]:
    """Metric names in the code: count("X"), add_metric(name="X"), f"X_{...}" prefixes, and the
    per-flow, per-status names the outbox counts."""
    names = {f"{kind.value}_{status.value}" for kind in Kind for status in Status}
    for path in [*ROOT.glob("layers/mpesa/mpesa/**/*.py"), *ROOT.glob("functions/*/app.py")]:
        text = path.read_text()
        names.update(re.findall(r'count\("(\w+)"', text))
        names.update(re.findall(r'add_metric\(name="(\w+)"', text))
        names.update(f"{prefix}{{}}" for prefix in re.findall(r'name=f"(\w+?_)\{', text))
    return names


def test_the_dashboard_is_json_once_substituted():
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(body.replace("${AWS::Region}", "eu-west-1"))
    assert len(dashboard["widgets"]) >= 8


def test_every_alarm_and_dashboard_metric_of_ours_is_emitted_by_the_code():
    emitted = emitted_names()
    used: set[str] = set()
    for resource in RESOURCES.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            if props.get("Namespace") == NAMESPACE:
                used.add(props["MetricName"])
            for metric in props.get("Metrics", []):
                stat = metric.get("MetricStat", {}).get("Metric", {})
                if stat.get("Namespace") == NAMESPACE:
                    used.add(stat["MetricName"])
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for widget in json.loads(body.replace("${AWS::Region}", "x"))["widgets"]:
        for row in widget["properties"]["metrics"]:
            if row and row[0] == NAMESPACE:
                used.add(row[1])
    prefixes = {name[:-2] for name in emitted if name.endswith("{}")}
    missing = {name for name in used if name not in emitted and not any(name.startswith(p) for p in prefixes)}
    assert missing == set()
