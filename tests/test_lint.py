"""The code base passes its linters, as CI and the pre-commit hooks run them: ruff (lint and
format) for Python, sqlfluff with the dbt templater for the models (`.sqlfluff`)."""

import os
import subprocess
import sys
from pathlib import Path

from dbt_fixtures import TELEMETRY_OFF

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, **TELEMETRY_OFF, **env}
    )


def test_ruff_lint_and_format():
    lint = _run([str(BIN / "ruff"), "check", "."])
    assert lint.returncode == 0, f"ruff check failed; run `ruff check --fix .`:\n{lint.stdout[-4000:]}"
    fmt = _run([str(BIN / "ruff"), "format", "--check", "."])
    assert fmt.returncode == 0, f"ruff format would change files; run `ruff format .`:\n{fmt.stdout[-4000:]}"


def test_sqlfluff_on_the_dbt_models(tmp_path):
    # The dbt templater compiles each model; an empty warehouse dir is all it needs.
    result = _run(
        [str(BIN / "sqlfluff"), "lint", "dbt_project/models", "--disable-progress-bar"],
        COSTLINE_WAREHOUSE_DIR=str(tmp_path),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    assert result.returncode == 0, (
        f"sqlfluff found problems; run `sqlfluff fix dbt_project/models`:\n{result.stdout[-6000:]}"
    )
