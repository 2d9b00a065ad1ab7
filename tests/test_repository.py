"""The repository stands alone: nothing reads outside it, what is local stays untracked, and CI
fails when the suite does not run."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = "../" + "shared"  # spelt in two parts, so that this file does not name it


def git(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)


BESIDE = re.compile(rb"""\.\.['"]?\s*[/,]\s*['"]?""" + b"shared")
"""The folder beside the repository named in a path, also when the path is joined from its parts."""


def test_no_tracked_file_reads_a_folder_beside_the_repository():
    tracked = git("ls-files", "-z").stdout.split("\0")
    naming = []
    for name in filter(None, tracked):
        path = ROOT / name
        if path.is_file() and (OUTSIDE.encode() in path.read_bytes() or BESIDE.search(path.read_bytes())):
            naming.append(name)
    assert naming == [], f"these files name {OUTSIDE}: {naming}"


def test_a_virtual_environment_in_the_repository_is_ignored():
    for path in (".venv/", ".venv/bin/python3", ".venv/lib/python3.11/site-packages/x.py"):
        assert git("check-ignore", "--no-index", "-q", path).returncode == 0, path


STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
{body}
"""


@pytest.mark.parametrize("collected", ["no tests", "a passing test"])
def test_ci_fails_when_pytest_collects_no_tests(tmp_path, collected):
    """.ci/run with its installs and services stubbed: its pytest is a real pytest run on a folder
    with no tests (exit code 5) or one passing test; CI must stop there with that exit code in the
    first case, and go on in the second (which shows the stubs stand in for the whole script)."""
    repo, stubs, suite = tmp_path / "repo", tmp_path / "bin", tmp_path / "suite"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    stubs.mkdir()
    suite.mkdir()
    if collected == "a passing test":
        (suite / "test_one.py").write_text("def test_one():\n    pass\n")
    log = tmp_path / "calls.log"
    python3 = (f'case "$*" in *"-m pytest"*) exec "{sys.executable}" -m pytest -q -p no:cacheprovider '
               f'--rootdir "{suite}" "{suite}";;\n'
               # the checks of the demo: until the demo started (in the background)
               f'-) until grep -q "^deconfliction demo" "{log}"; do sleep 0.1; done;; esac')
    bodies = {
        "python3": python3,  # pip installs: done
        "deconfliction": 'case "$1" in demo) echo "demo: stopped";; esac',
        "pg_ctlcluster": "", "pg_isready": "", "apt-get": "",
    }
    for name, body in bodies.items():
        (stubs / name).write_text(STUB.format(log=log, body=body))
        (stubs / name).chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    calls = log.read_text().splitlines()
    pytest_call = next(i for i, c in enumerate(calls) if "-m pytest" in c)
    if collected == "no tests":
        assert result.returncode == 5, result.stdout + result.stderr
        assert "no tests ran" in result.stdout
        assert calls[pytest_call + 1:] == []  # nothing after it ran
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "deconfliction replay examples/at-tanf.yaml --format table" in calls[pytest_call + 1:]


def test_pytest_itself_exits_5_when_it_collects_nothing(tmp_path):
    """What the test above relies on."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                             str(tmp_path), str(tmp_path)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTEST_ADDOPTS": ""})
    assert result.returncode == 5, result.stdout
