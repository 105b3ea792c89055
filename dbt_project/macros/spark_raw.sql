{#- Spark's raw layer: every source table of schema raw as an external Parquet table over
    $COSTLINE_SPARK_RAW_DIR/<table> (default $COSTLINE_WAREHOUSE_DIR/spark/raw), the files
    orchestration/spark_raw.py exports from the DuckDB warehouse (timestamps UTC). Run on
    every dbt invocation on Spark (on-run-start); a no-op on other engines. REFRESH makes a
    re-export visible to a session that listed the files before. -#}
{% macro costline_register_spark_raw() -%}
    {%- if target.type == 'spark' and execute -%}
        {%- set raw_dir = env_var('COSTLINE_SPARK_RAW_DIR', env_var('COSTLINE_WAREHOUSE_DIR', '../data/warehouse') ~ '/spark/raw') -%}
        {%- set tables = [] -%}
        {%- for source in graph.sources.values() if source.schema == 'raw' -%}
            {%- if source.identifier not in tables -%}
                {%- do tables.append(source.identifier) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do run_query("create database if not exists raw") -%}
        {%- for table in tables | sort -%}
            {%- do run_query("create table if not exists raw." ~ table ~ " using parquet location '" ~ raw_dir ~ "/" ~ table ~ "'") -%}
            {%- do run_query("refresh table raw." ~ table) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
