"""The parity figures, printed at the end of the run (pixel agreement and logit error per model and prompt)."""

from __future__ import annotations

import pytest

FIGURES: list[str] = []


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Where a test puts its figures (one line each) for the summary."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per comparison made."""
    if FIGURES:
        terminalreporter.section("parity figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
