"""The dbt vars the published mart was built with, read from its `rule_thresholds` table.

Delivery never restates a threshold: the budget alert's severity cut is the same
`budget_at_risk_pct` budget_burn used for `at_risk`, as published beside the figures.
"""

from decimal import Decimal

import duckdb

TABLE = "rule_thresholds"


class MissingThreshold(LookupError):
    pass


def rule_thresholds(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    try:
        return dict(con.execute(f"select name, value from {TABLE}").fetchall())
    except duckdb.CatalogException:
        return {}  # a mart published by an older costline: rule_threshold says what to do


def rule_threshold(con: duckdb.DuckDBPyConnection, name: str) -> Decimal:
    value = rule_thresholds(con).get(name)
    if value is None:
        raise MissingThreshold(
            f"the published mart has no {TABLE} row {name!r}: run the daily job once "
            f"with this version of costline to publish it"
        )
    return value
