from __future__ import annotations

from pathlib import Path

from uavops.cli.main import STAGES


def test_help_lists_available_stages(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "config" in result.stdout


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert "uavops" in result.stdout


def test_user_error_is_one_sentence_exit_2_no_traceback(run_cli, tmp_path: Path):
    result = run_cli("config", "validate", str(tmp_path / "missing.toml"))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "does not exist" in lines[0]


def test_bad_toml_is_reported(run_cli, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("sitl_bin = = 3\n")
    result = run_cli("config", "validate", str(bad))
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr


def test_unknown_setting_rejected(run_cli, tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[uavops]\nhub_url = "http://127.0.0.1:8080"\nbogus = 1\n')
    result = run_cli("config", "validate", str(cfg))
    assert result.exit_code == 2 and "unknown setting 'bogus'" in result.stderr


def test_valid_settings_print(run_cli, tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[uavops]\nhub_url = "http://127.0.0.1:8080"\n')
    result = run_cli("config", "validate", str(cfg))
    assert result.exit_code == 0, result.stderr
    assert '"hub_url": "http://127.0.0.1:8080"' in result.stdout


def test_every_stage_module_that_exists_exposes_cli():
    import importlib
    import importlib.util

    for name, (module, _help) in STAGES.items():
        if importlib.util.find_spec(module) is None:
            continue
        mod = importlib.import_module(module)
        assert hasattr(mod, "cli"), f"{module} must define a click command named cli"
