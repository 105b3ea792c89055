"""Getting the mart to people: alerts to a webhook and the stakeholder HTML report.

Plain Python over the published `mart.duckdb` (and `ops.alert_log` in the warehouse); the
Dagster wiring lives in `orchestration/delivery.py`.
"""
