{#- What goes into a dbt build on Spark and what comes out (orchestration/spark_engine.py).

    Spark's raw layer: every source table of schema raw as an external Parquet table over
    $COSTLINE_SPARK_RAW_DIR/<table> (default $COSTLINE_WAREHOUSE_DIR/spark/raw), the files
    orchestration/spark_engine.py exports from the DuckDB warehouse (timestamps UTC). Run on
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


{#- The handoff: each table costline named in COSTLINE_SPARK_HANDOFF_TABLES ("<schema>.<table>",
    comma-separated) written as plain Parquet to $COSTLINE_SPARK_HANDOFF_DIR/<schema>.<table>/,
    for costline to take back into warehouse.duckdb (the gate, the published mart). A contract
    model's columns in its contract's order, so the copy has DuckDB's column order (Spark puts
    partition columns last). Not partitioned: an empty table still writes a file with its
    schema. Run at the end of every dbt invocation (on-run-end); a no-op unless costline set
    the folder, and on other engines. -#}
{% macro costline_spark_handoff() -%}
    {%- set handoff_dir = env_var('COSTLINE_SPARK_HANDOFF_DIR', '') -%}
    {%- if target.type == 'spark' and execute and handoff_dir -%}
        {%- set wanted = env_var('COSTLINE_SPARK_HANDOFF_TABLES', '').split(',') -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and (node.schema ~ '.' ~ node.name) in wanted -%}
            {%- set columns = [] -%}
            {%- for column in (node.columns.keys() if node.config.contract.enforced else []) -%}
                {%- do columns.append(adapter.quote(column)) -%}
            {%- endfor -%}
            {%- set select_list = columns | join(', ') if columns else '*' -%}
            {%- do run_query("insert overwrite directory '" ~ handoff_dir ~ "/" ~ node.schema ~ "." ~ node.name ~ "' using parquet select " ~ select_list ~ " from " ~ node.schema ~ "." ~ node.name) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
