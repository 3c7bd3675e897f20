"""The console's reading of the events log, without a stack."""

import json

from local.console import recent_events


def test_the_latest_events_come_newest_first_and_a_line_being_written_is_skipped(tmp_path):
    log = tmp_path / "events.log"
    assert recent_events(log, 10) == []  # no log yet
    lines = [json.dumps({"detail-type": f"e{n}"}) for n in range(5)]
    log.write_text("\n".join([*lines, '{"detail-type": "half']) + "\n", encoding="utf-8")
    assert [e["detail-type"] for e in recent_events(log, 3)] == ["e4", "e3"]
    assert [e["detail-type"] for e in recent_events(log, 100)] == ["e4", "e3", "e2", "e1", "e0"]
