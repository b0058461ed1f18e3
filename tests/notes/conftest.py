"""Shared fixtures for the notes tests: ACI-Bench's folder and its rows.

`aci_bench` and `aci_rows` are the vendored subset in the default run and the full splits in the
slow suite (tests/fixtures/aci_bench.py); `valid_rows` is always the subset, whose valid.csv starts
with the full split's first visits, so tests that take the first rows see the same visits either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.aci_bench import SUBSET, WHICH, aci_bench_dir, read_rows


@pytest.fixture(scope="session", params=WHICH)
def aci_bench(request: pytest.FixtureRequest) -> Path:
    return aci_bench_dir(request.param)


@pytest.fixture(scope="session")
def aci_rows(aci_bench: Path) -> list[dict[str, str]]:
    """Every train and valid visit of `aci_bench`."""
    return read_rows(aci_bench / "train.csv") + read_rows(aci_bench / "valid.csv")


@pytest.fixture(scope="session")
def valid_rows() -> list[dict[str, str]]:
    return read_rows(SUBSET / "valid.csv")
