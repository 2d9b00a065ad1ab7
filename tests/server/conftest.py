"""Fixtures for the HTTP API tests: a world on SQLite (``world``) or on each backend (``any_world``)."""
import pytest

from tests.server.world import World


@pytest.fixture
def world(tmp_path):
    """The five parties on an SQLite store in tmp_path (key beside it, as the CLI expects)."""
    w = World(f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "log.key").add_parties()
    yield w
    w.close()


@pytest.fixture
def make_world(tmp_path):
    """Build worlds with custom settings; closed at the end of the test."""
    made = []

    def make(db: str | None = None, **settings) -> World:
        w = World(db or f"sqlite:///{tmp_path / f'log{len(made)}.db'}", tmp_path / f"log{len(made)}.key",
                  **settings).add_parties()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def no_server(monkeypatch):
    """``serve`` stops before it would listen: a list of the apps it would have served."""
    import uvicorn
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    return served
