"""The real ADS-B samples of the installed ``traffic`` package, or a clean skip."""
from pathlib import Path

import pytest

from deconfliction.formats.adsb import traffic_samples_dir


def samples_or_skip() -> Path:
    """The samples folder; skips the whole test module when the samples are not installed."""
    root = traffic_samples_dir()
    if root is None or not (root / "collections" / "quickstart.json.gz").is_file():
        pytest.skip("real ADS-B samples not installed (pip install --no-deps traffic==2.13)",
                    allow_module_level=True)
    return root
