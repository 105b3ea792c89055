"""costline ingestion: plain Python + DuckDB that lands raw inputs in the warehouse.

Nothing in this package imports Dagster, so it can be tested and reused on its own.
"""
