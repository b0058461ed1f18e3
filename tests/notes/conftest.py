"""Shared fixtures for the notes tests: where ACI-Bench lives, and its rows."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [
    os.environ.get("HEARTH_ACI_BENCH", ""),
    str(ROOT.parent / "shared" / "data" / "aci-bench"),
    str(ROOT.parent.parent / "shared" / "data" / "aci-bench"),
    "/work/shared/data/aci-bench",
]


def find_aci_bench() -> Path | None:
    for candidate in _CANDIDATES:
        if candidate and (Path(candidate) / "valid.csv").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def aci_bench() -> Path:
    found = find_aci_bench()
    if found is None:
        pytest.skip("ACI-Bench data not found: set HEARTH_ACI_BENCH to the folder holding train.csv and valid.csv")
    return found


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def aci_rows(aci_bench: Path) -> list[dict[str, str]]:
    """All 87 train+valid encounters."""
    return read_rows(aci_bench / "train.csv") + read_rows(aci_bench / "valid.csv")


@pytest.fixture(scope="session")
def valid_rows(aci_bench: Path) -> list[dict[str, str]]:
    return read_rows(aci_bench / "valid.csv")
