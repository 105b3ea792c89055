"""The field registry (`ingestion/fields.py`) is the one list of telemetry and outcome fields:
the raw DDL, the staging columns, the OTLP map and dbt's staging models must all follow it."""

import re
from pathlib import Path

import pytest
import yaml

from ingestion.fields import (
    OUTCOME_FIELDS,
    OUTCOME_STAGE_COLUMNS,
    TAG_ALIAS_PREFIX,
    TELEMETRY_FIELDS,
    TELEMETRY_STAGE_COLUMNS,
    column_names,
)
from ingestion.otel.spans import flatten_export_request
from ingestion.warehouse import RAW_TABLES

REPO = Path(__file__).resolve().parents[1]
STAGING = REPO / "dbt_project" / "models" / "staging" / "telemetry"
# Where staging renames a field on purpose (the caller's figure is kept apart from the estimate).
RENAMED_IN_STAGING = {"cost_usd": "reported_cost_usd"}


def ddl_columns(table: str) -> list[str]:
    return [line.strip().split()[0] for line in RAW_TABLES[table].strip().splitlines() if line.strip()]


def stage_columns(ddl: str) -> list[str]:
    return [part.split()[0] for part in ddl.split(",") if part.strip() and not part.strip()[0].isdigit()]


@pytest.mark.parametrize("table, fields", [("telemetry_calls", TELEMETRY_FIELDS), ("outcomes", OUTCOME_FIELDS)])
def test_raw_tables_start_with_the_registry_in_order(table, fields):
    names = column_names(fields)
    assert ddl_columns(table)[: len(names)] == list(names)
    not_null = {line.split()[0] for line in RAW_TABLES[table].splitlines() if "NOT NULL" in line}
    assert {f.name for f in fields if f.not_null} == not_null & set(names)


def test_stage_tables_carry_every_field():
    assert set(column_names(TELEMETRY_FIELDS)) <= set(stage_columns(TELEMETRY_STAGE_COLUMNS))
    assert set(column_names(OUTCOME_FIELDS)) <= set(stage_columns(OUTCOME_STAGE_COLUMNS))


def test_names_and_aliases_are_unique_and_the_contract_name_comes_first():
    for fields in (TELEMETRY_FIELDS, OUTCOME_FIELDS):
        assert len({f.name for f in fields}) == len(fields)
        keys = [k for f in fields for k in f.keys]
        assert len(set(keys)) == len(keys), "an alias names two fields"
        assert all(f.keys[0] == f.name for f in fields)


@pytest.mark.parametrize(
    "model, fields", [("stg_telemetry__calls", TELEMETRY_FIELDS), ("stg_telemetry__outcomes", OUTCOME_FIELDS)]
)
def test_dbt_staging_selects_every_field(model, fields):
    sql = (STAGING / f"{model}.sql").read_text()
    missing = [
        f.name
        for f in fields
        if not re.search(rf"\b{f.name}\b(\s+as\s+{RENAMED_IN_STAGING.get(f.name, f.name)}\b)?", sql)
    ]
    assert not missing, f"{model}.sql does not select {missing}: add them (and to the source YAML if documented)"
    for name, new in RENAMED_IN_STAGING.items():
        if name in column_names(fields):
            assert re.search(rf"\b{name}\s+as\s+{new}\b", sql)


def test_documented_source_columns_exist_in_the_raw_ddl():
    sources = yaml.safe_load((STAGING / "_telemetry__sources.yml").read_text())["sources"][0]
    for table in sources["tables"]:
        identifier = table.get("identifier", table["name"])
        for column in table.get("columns", []):
            assert column["name"] in ddl_columns(identifier), f"{identifier}.{column['name']}"


def test_otlp_attributes_map_through_the_registry_aliases():
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": 10,
        "costline.workspace": "support",
        f"{TAG_ALIAS_PREFIX}team": "a",
    }
    request = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "t1",
                                "spanId": "s1",
                                "startTimeUnixNano": "1764547200000000000",
                                "attributes": [
                                    {
                                        "key": k,
                                        "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v},
                                    }
                                    for k, v in attrs.items()
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    [record] = flatten_export_request(request)
    assert record["model"] == "gpt-4o" and record["provider"] == "openai" and record["input_tokens"] == 10
    assert record["workspace"] == "support" and record["tags"] == {"team": "a"}
    # Besides the contract fields only the span facts the loader takes off (`_`-prefixed).
    assert {k for k in record if not k.startswith("_")} <= set(column_names(TELEMETRY_FIELDS))


def test_the_untagged_label_is_the_same_in_ingestion_and_dbt():
    from ingestion.fields import UNTAGGED

    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["untagged_label"] == UNTAGGED


def test_the_unreported_service_tier_is_the_same_in_ingestion_and_dbt():
    from ingestion.fields import UNREPORTED_TIER

    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["service_tier_unreported_label"] == UNREPORTED_TIER
