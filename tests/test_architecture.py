"""Layering and the public API."""
import ast
from pathlib import Path

import deconfliction

SRC = Path(deconfliction.__file__).parent
FORBIDDEN = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "sqlite3", "argparse", "click",
             "typer", "yaml", "jsonschema", "pandas", "httpx", "requests", "flask"}
FORBIDDEN_OWN = {"cli", "replay", "formats", "server", "log", "web"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            names.add(prefix)
    return names


def test_geo_and_engine_import_no_framework_driver_or_cli_library():
    for layer in ("geo", "engine"):
        for path in (SRC / layer).glob("*.py"):
            for name in imports_of(path):
                root = name.lstrip(".").split(".")[0]
                assert root not in FORBIDDEN, f"{path.name} imports {name}"
                if name.startswith(".."):
                    assert root not in FORBIDDEN_OWN, f"{path.name} imports {name}"


def test_geo_does_not_import_the_engine():
    for path in (SRC / "geo").glob("*.py"):
        assert not any(n.lstrip(".").startswith("engine") for n in imports_of(path) if n.startswith("..")), path


def test_public_api_is_curated_and_importable():
    assert sorted(deconfliction.__all__) == deconfliction.__all__ or len(set(deconfliction.__all__)) == len(deconfliction.__all__)
    for name in deconfliction.__all__:
        assert getattr(deconfliction, name) is not None
    assert {"Engine", "Zone", "Operation", "Report", "Circle", "Area", "Corridor", "Volume4D",
            "replay", "load_scenario"} <= set(deconfliction.__all__)


def test_public_classes_and_functions_have_docstrings():
    for name in deconfliction.__all__:
        assert getattr(deconfliction, name).__doc__, name



ENGINE_INTERNALS = {"channel", "tracks"}
"""The engine's parts that only the engine reads; outside ``engine/`` its read methods are the way in."""


def engine_reads(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of each read of an engine's private attribute, ``channel`` or ``tracks``: an
    attribute of a name or of an attribute called ``engine`` (``engine._x``, ``service.ledger.engine.tracks``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        named = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if named == "engine" and (private or node.attr in ENGINE_INTERNALS):
            found.append((node.lineno, node.attr))
    return sorted(found)


def test_only_the_engine_reads_its_internals():
    """Outside ``engine/`` the engine is read through its public methods (messages, units, next_due, ...)."""
    found = [f"{path.relative_to(SRC)}:{line}: engine.{name}" for path in sorted(SRC.rglob("*.py"))
             if path.relative_to(SRC).parts[0] != "engine" for line, name in engine_reads(path.read_text())]
    assert found == []


def test_the_internals_check_finds_what_it_looks_for():
    source = ("a = engine._zone_watch.state\nb = service.ledger.engine.channel.messages\n"
              "c = len(engine.tracks)\nd = engine.messages()\ne = engine.__class__\nf = args.channel\n")
    assert engine_reads(source) == [(1, "_zone_watch"), (2, "channel"), (3, "tracks")]
