"""Every environment variable the code reads is in the README's configuration table, and the
table lists nothing the code no longer reads. A variable users cannot find is a setting they
cannot use; a listed one the code ignores is a setting that silently does nothing."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = ("ingestion", "orchestration", "reporting", "enforcement")
NAME = re.compile(r"^(COSTLINE|OPENAI|ANTHROPIC|DAGSTER)_[A-Z0-9_]*$")
DBT_ENV_VAR = re.compile(r"env_var\(\s*'([A-Z][A-Z0-9_]*)'")
# Read by the code but not settings: costline sets them itself for a child process.
INTERNAL = {
    "COSTLINE_RUN_START_DAY": "the run window orchestration hands to dbt (macros/run_window.sql)",
    "COSTLINE_RUN_END_DAY": "the run window orchestration hands to dbt (macros/run_window.sql)",
    "COSTLINE_RUN_": "the prefix run_window.sql builds those two names from",
    "COSTLINE_OPEN_DAY": "the day still running, orchestration hands to dbt (macros/intraday.sql)",
    "COSTLINE_OPEN_HOUR": "the hour still running, orchestration hands to dbt (macros/intraday.sql)",
    "COSTLINE_OPEN_": "the prefix intraday.sql builds those two names from",
    "COSTLINE_": "the prefix of every setting: all of them are hashed into the re-run fingerprint (run_fingerprint.py)",
    "COSTLINE_SPARK_HANDOFF_DIR": "where a Spark build writes the tables costline takes back (orchestration/spark_engine.py)",
    "COSTLINE_SPARK_HANDOFF_TABLES": "which tables a Spark build hands back (orchestration/spark_engine.py)",
    "COSTLINE_TEST_PAUSE_AT": "fault injection for the crash tests only (ingestion/settings.py)",
    "COSTLINE_TEST_PAUSE_SIGNAL": "fault injection for the crash tests only (ingestion/settings.py)",
}


def names_in_code() -> set[str]:
    found: set[str] = set()
    for folder in CODE:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.match(node.value):
                    found.add(node.value)
    for path in [
        REPO / "dbt_project" / "profiles.yml",
        *(REPO / "dbt_project").glob("macros/**/*.sql"),
        *(REPO / "dbt_project").glob("models/**/*.sql"),
        REPO / "dbt_project" / "dbt_project.yml",
    ]:
        found |= set(DBT_ENV_VAR.findall(path.read_text()))
    return found


def names_in_readme() -> set[str]:
    section = REPO.joinpath("README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= {name.split("<")[0] for name in re.findall(r"`([A-Z][A-Z0-9_<>]*)`", first_cell)}
    return names


def test_every_variable_the_code_reads_is_documented():
    documented = names_in_readme()
    missing = sorted(names_in_code() - documented - set(INTERNAL))
    assert not missing, f"add these to the README's configuration table: {missing}"


def test_the_readme_lists_only_variables_the_code_reads():
    stale = sorted(names_in_readme() - names_in_code())
    assert not stale, f"the README lists variables no code reads: {stale}"
