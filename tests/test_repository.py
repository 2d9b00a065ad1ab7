"""The repository stands alone: nothing reads outside it."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = "../" + "shared"  # spelt in two parts, so that this file does not name it


def git(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60)


def test_no_tracked_file_reads_a_folder_beside_the_repository():
    tracked = git("ls-files", "-z").stdout.split("\0")
    naming = []
    for name in filter(None, tracked):
        path = ROOT / name
        if path.is_file() and OUTSIDE.encode() in path.read_bytes():
            naming.append(name)
    assert naming == [], f"these files name {OUTSIDE}: {naming}"
