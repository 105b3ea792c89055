"""costline orchestration: thin Dagster wiring around ingestion/, dbt_project/ and the mart."""
