{#- Lets the orchestrator cap DuckDB on a shared machine without editing profiles.yml: a
    profile value cannot be left out conditionally, a SET statement can. -#}
{% macro costline_apply_duckdb_settings() -%}
    {%- if target.type == 'duckdb' -%}
        {%- set threads = env_var('COSTLINE_DUCKDB_THREADS', '') | trim -%}
        {%- set memory_limit = env_var('COSTLINE_DUCKDB_MEMORY_LIMIT', '') | trim -%}
        {%- if threads -%}
            {%- if not modules.re.match('^[0-9]+$', threads) -%}
                {{ exceptions.raise_compiler_error("COSTLINE_DUCKDB_THREADS must be a whole number, got '" ~ threads ~ "'") }}
            {%- endif -%}
            set threads = {{ threads }};
        {% endif -%}
        {%- if memory_limit -%}
            {%- if not modules.re.match('^[0-9.]+ ?[KMGT]?i?B$', memory_limit, modules.re.I) -%}
                {{ exceptions.raise_compiler_error("COSTLINE_DUCKDB_MEMORY_LIMIT must look like '4GB', got '" ~ memory_limit ~ "'") }}
            {%- endif -%}
            set memory_limit = '{{ memory_limit }}';
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
