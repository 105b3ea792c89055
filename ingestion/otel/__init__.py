"""OpenTelemetry spans to costline call records.

`spans.py` walks OTLP/JSON export requests; `dialects.py` holds one mapping table per tracing
library; `records.py` turns a recognised span into a contract record (tokens normalised,
errors, tags); `tagging.py` says which attributes name the workspace and feature;
`usage_json.py` reads usage/cost JSON (Langfuse); `echoes.py` makes two spans of one call one.
"""
