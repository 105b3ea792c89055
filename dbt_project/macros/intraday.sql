{#-
  The open day and hour: the UTC day (and hour) that had not ended when the run started
  (ingestion/clock.py; COSTLINE_NOW replays another moment). costline's orchestrator sets
  COSTLINE_OPEN_DAY ('YYYY-MM-DD') and COSTLINE_OPEN_HOUR ('YYYY-MM-DD HH:00:00') for
  every dbt build; a hand-run build without them treats every day as ended. A dbt var of the
  same name in lower case (`costline_open_day`, `costline_open_hour`) wins over the
  environment, as the run window's vars do (a hand-run build, a unit test's override). The
  environment is read only while executing (macros/run_window.sql says why).

  Rows of the open day are partial (`is_partial`): more calls will arrive and the provider's
  bill for the day does not exist yet. Rules judged per hour look at closed hours only: an
  hour still running has a fraction of its calls.
-#}

{% macro costline_open_bound(name) -%}
    {%- set value = var('costline_open_' ~ name, none) -%}
    {%- if (value is none or (value | string | trim) == '') and execute -%}
        {%- set value = env_var('COSTLINE_OPEN_' ~ (name | upper), '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set pattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' if name == 'day' else '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:00:00$' -%}
    {%- if not modules.re.match(pattern, text) -%}
        {{ exceptions.raise_compiler_error("COSTLINE_OPEN_" ~ (name | upper) ~ " (or var costline_open_" ~ name ~ ") must look like "
            ~ ("'2026-10-31'" if name == 'day' else "'2026-10-31 10:00:00'") ~ ", got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}

{#- TRUE for a day that had not ended when the run started. -#}
{% macro costline_is_partial_day(day_column) -%}
    {%- set day = costline_open_bound('day') -%}
    {%- if day is none -%}
        false
    {%- else -%}
        ({{ day_column }} >= {{ costline_date_literal(day) }})
    {%- endif -%}
{%- endmacro %}

{#- TRUE for an hour (its start timestamp) that had ended when the run started. -#}
{% macro costline_hour_closed(hour_column) -%}
    {%- set hour = costline_open_bound('hour') -%}
    {%- if hour is none -%}
        1 = 1
    {%- else -%}
        {{ hour_column }} < cast('{{ hour }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- Where a row's cost comes from: 'billed' (all from a loaded bill), 'estimate' (no bill yet:
    list prices or the caller's own cost; every intraday row until the provider bills the day),
    'mixed', or 'none' (no cost). -#}
{% macro costline_cost_basis(cost_column, billed_column) -%}
    case
        when {{ cost_column }} = 0 and {{ billed_column }} = 0 then 'none'
        when {{ billed_column }} = {{ cost_column }} then 'billed'
        when {{ billed_column }} = 0 then 'estimate'
        else 'mixed'
    end
{%- endmacro %}

{#- Post-hook of the marts that gained is_partial / cost_basis: rows built before those
    columns existed get their values once (they are days that had ended), so a BI filter
    `where not is_partial` never drops history. A no-op on every later run. -#}
{% macro costline_fill_intraday_columns(cost_column='cost_usd', billed_column='billed_cost_usd') -%}
    {{ return(adapter.dispatch('costline_fill_intraday_columns', 'costline')(cost_column, billed_column)) }}
{%- endmacro %}
{#- Spark has no UPDATE on Parquet tables, and a Spark warehouse never held those marts
    without the two columns: nothing to fill. -#}
{% macro spark__costline_fill_intraday_columns(cost_column='cost_usd', billed_column='billed_cost_usd') -%}
{%- endmacro %}
{% macro default__costline_fill_intraday_columns(cost_column='cost_usd', billed_column='billed_cost_usd') -%}
    {%- if is_incremental() -%}
        update {{ this }}
        set is_partial = false, cost_basis = {{ costline_cost_basis(cost_column, billed_column) }}
        where is_partial is null
    {%- endif -%}
{%- endmacro %}
