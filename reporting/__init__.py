"""Getting the mart to people: alerts to a webhook and the stakeholder HTML report.

Plain Python over the published `mart.duckdb` and delivery's own `delivery.duckdb` (the alert
log), never the warehouse; the
Dagster wiring lives in `orchestration/delivery.py`.
"""
