"""Shared test fixtures: the location of ../shared/data (real data, never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test with a reason when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p} (../shared/data is absent on this machine)")
    return p


#: Measured values that tests report in the pytest output (printed in the terminal summary, so they
#: show in every run, not only with ``-s``).
_MEASURED: list[str] = []


@pytest.fixture
def report_measured(request):
    """``report_measured("text")`` adds a line to the 'farside measured values' summary. The line
    travels in the test's report (``user_properties``), so it reaches the summary from pytest-xdist
    workers too."""
    def add(line: str) -> None:
        request.node.user_properties.append(("farside_measured", str(line)))
    return add


def pytest_runtest_logreport(report):
    if report.when == "teardown":          # its user_properties hold every phase's lines
        _MEASURED.extend(v for k, v in getattr(report, "user_properties", ()) if k == "farside_measured")


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("farside measured values")
        for line in _MEASURED:
            terminalreporter.write_line(line)
