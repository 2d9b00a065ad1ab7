"""`deconfliction serve --policy FILE`: a log's rules are written into it, before its first zone, plan or report."""
from __future__ import annotations

from pathlib import Path

import pytest

from deconfliction.cli import main
from deconfliction.engine.model import Policy
from deconfliction.server.service import Service, Settings
from deconfliction.service_cli import _adopt_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "at-tanf.yaml"
ZONE = {"id": "z", "name": "Z", "kind": "protected_site", "parties": ["un"],
        "geometry": {"type": "Point", "coordinates": [38.6, 33.5]}, "radius_m": 500}


def _service(tmp_path: Path) -> Service:
    return Service(Settings(db=f"sqlite:///{tmp_path / 'p.db'}", key_path=tmp_path / "p.key"))


def test_the_rules_of_a_file_are_logged_and_kept_across_a_restart_and_verify(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("policy:\n  perimeter_m: 10000\n  ack_deadline_s: 1800\n  escalation: [advisory, warning]\n")
    service = _service(tmp_path)
    service.add_party("un", "UN")  # parties may come first (deconfliction party add before serve)
    assert _adopt_policy(service, rules)
    expected = Policy(perimeter_m=10000, ack_deadline_s=1800, escalation=("advisory", "warning"))
    assert service.ledger.engine.policy == expected
    assert _adopt_policy(service, rules)  # the same rules again: nothing more is written
    commands = [e.body["type"] for e in service.store.entries() if e.kind == "command"]
    assert commands == ["party.add", "policy.set"]
    service.stop()

    reopened = _service(tmp_path)
    assert reopened.ledger.engine.policy == expected
    reopened.stop()
    assert main(["log", "verify", "--db", f"sqlite:///{tmp_path / 'p.db'}"]) == 0
    assert "ok" in capsys.readouterr().out


def test_a_scenario_file_gives_its_policy(tmp_path):
    service = _service(tmp_path)
    assert _adopt_policy(service, EXAMPLE)
    assert service.ledger.engine.policy.perimeter_m == 10000  # the example's band
    service.stop()


def test_a_log_keeps_the_rules_it_started_with(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("policy:\n  perimeter_m: 123\n")
    service = _service(tmp_path)
    service.add_party("un", "UN")
    service.execute({"type": "zone.declare", "party": "un", "zone": ZONE}, lambda events: (201, {}))
    before = service.store.entries()
    assert not _adopt_policy(service, rules)
    assert "keeps the rules it started with" in capsys.readouterr().err
    assert service.store.entries() == before and service.ledger.engine.policy == Policy()
    service.stop()


@pytest.mark.parametrize("text, where", [
    ("policy:\n  perimeter_m: -5\n", "policy.perimeter_m: must not be negative"),
    ("policy:\n  escalaton: [a]\n", "policy.escalaton: unknown field; did you mean 'escalation'?"),
    ("policy: [1, 2\n", "is not valid YAML"),
])
def test_bad_rules_stop_serve_with_the_field_named_and_nothing_written(tmp_path, capsys, text, where):
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["serve", "--db", db, "--port", "1", "--policy", str(rules)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err
    service = _service(tmp_path)
    assert service.store.entries() == []
    service.stop()
