"""Root test configuration.

Stage-specific fixtures live in ``tests/fixtures/<stage>.py`` and are loaded as plugins here,
so each stage owns its fixtures without editing this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

pytest_plugins = sorted(
    f"fixtures.{p.stem}" for p in (TESTS_DIR / "fixtures").glob("*.py") if not p.stem.startswith("_")
)

SHARED_DATA = (TESTS_DIR.parent.parent / "shared" / "data").resolve()


@pytest.fixture
def shared_data() -> Path:
    """Real third-party data beside the clone (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see the developer's own uavops settings (SITL and test-database locations excepted)."""
    import os

    for key in list(os.environ):
        if key.startswith("UAVOPS_") and key not in {"UAVOPS_SITL_BIN", "UAVOPS_TEST_DATABASE_URL"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("UAVOPS_OUTBOX_DIR", str(tmp_path_factory.mktemp("outbox")))


class UavopsRunner:
    """Runs the real ``uavops`` entry point in-process and returns (exit code, stdout, stderr)."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        from uavops.cli.main import main

        def entry() -> None:
            main(list(args))

        import click

        cmd = click.Command("uavops", callback=entry)
        result = self._runner.invoke(cmd, [], input=input, catch_exceptions=False)
        return result


@pytest.fixture
def run_cli() -> UavopsRunner:
    """``run_cli("plan", "area.geojson", ...)`` → click Result with exit_code, stdout, stderr."""
    return UavopsRunner()
