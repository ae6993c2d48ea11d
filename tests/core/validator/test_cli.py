"""`scatter validator run|status`: the options the SDK and operators rely on, and one-line errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from scatter.cli import app

runner = CliRunner()


def test_run_help_lists_the_stable_options() -> None:
    result = runner.invoke(app, ["validator", "run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--rpc-url", "--dev-account", "--state-dir", "--port", "--stake", "--config", "--samples",
                   "--deadline", "--max-cpu", "--max-bandwidth", "--exclude"):  # fmt: skip
        assert option in result.output


def test_status_of_a_missing_state_dir_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validator", "status", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "no validator state" in str(result.exception)


def test_run_refuses_bad_settings_before_touching_the_network(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validator", "run", "--state-dir", str(tmp_path), "--samples", "0"])
    assert result.exit_code != 0
    assert "samples (c) must be at least 1" in str(result.exception)
