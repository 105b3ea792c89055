"""Every threshold is a dbt var, published once in `rule_thresholds` for delivery to read:
the model must list every numeric var of dbt_project.yml, and delivery must not restate one."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def numeric_vars() -> set[str]:
    variables = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    return {k for k, v in variables.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def test_rule_thresholds_publishes_every_numeric_var():
    sql = (REPO / "dbt_project" / "models" / "marts" / "reporting" / "rule_thresholds.sql").read_text()
    listed = set(re.findall(r"'([a-z_]+)'", sql.split("%}", 1)[0]))
    assert listed == numeric_vars()


def test_delivery_restates_no_threshold_value():
    """The budget severity cut once sat in alert_rules.py as 0.85 beside the dbt var: no more."""
    variables = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    at_risk = str(variables["budget_at_risk_pct"])
    for path in (REPO / "reporting").glob("*.py"):
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        assert f'Decimal("{at_risk}")' not in code and f"= {at_risk}" not in code, path.name
