{#-
  The few expressions with no portable SQL spelling, dispatched per adapter so the models
  stay the same on DuckDB, Postgres, Trino and Spark. DuckDB implementations are the tested
  ones; the defaults follow ANSI / Postgres.
-#}

{#- 'YYYY-MM' of a date or timestamp: a string so `month like '2025-03%'` and joins to
    budgets.csv months work without date formatting functions. -#}
{% macro costline_month_label(expr) -%}
    substr(cast(cast({{ expr }} as date) as {{ dbt.type_string() }}), 1, 7)
{%- endmacro %}

{#- Calendar days of the month the date falls in. -#}
{% macro costline_days_in_month(date_expr) -%}
    cast(extract(day from {{ dbt.last_day(date_expr, 'month') }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro costline_day_of_month(date_expr) -%}
    cast(extract(day from {{ date_expr }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- Median (used as an aggregate). `scale`: the input is a decimal of that scale, and the
    median of an even count (the mean of the two middle values) is truncated toward zero to
    it, as DuckDB's median of a DECIMAL does. The default is exact: percentile_cont would go
    through a float (15 significant digits on Postgres) and round where DuckDB truncates. -#}
{% macro costline_median(expr, scale=none) -%}
    {{ return(adapter.dispatch('costline_median', 'costline')(expr, scale)) }}
{%- endmacro %}
{% macro default__costline_median(expr, scale=none) -%}
    {%- set middle_mean -%}
        (percentile_disc(0.5) within group (order by {{ expr }})
         + percentile_disc(0.5) within group (order by {{ expr }} desc)) / 2
    {%- endset -%}
    {%- if scale is none -%}
        {{ middle_mean }}
    {%- else -%}
        trunc({{ middle_mean }}, {{ scale | int }})
    {%- endif -%}
{%- endmacro %}
{% macro duckdb__costline_median(expr, scale=none) -%}
    median({{ expr }})
{%- endmacro %}

{#- Wide exact integer (micro-dollar products overflow 64 bits). -#}
{% macro costline_type_wide_int() -%}
    {{ return(adapter.dispatch('costline_type_wide_int', 'costline')()) }}
{%- endmacro %}
{% macro default__costline_type_wide_int() -%}
    numeric(38, 0)
{%- endmacro %}
{% macro duckdb__costline_type_wide_int() -%}
    hugeint
{%- endmacro %}

{#- floor(num / den) for integers, den > 0, exact (DuckDB's // truncates toward zero). -#}
{% macro costline_floor_div(num, den) -%}
    {{ return(adapter.dispatch('costline_floor_div', 'costline')(num, den)) }}
{%- endmacro %}
{% macro default__costline_floor_div(num, den) -%}
    (div({{ num }}, {{ den }}) - case when mod({{ num }}, {{ den }}) < 0 then 1 else 0 end)
{%- endmacro %}
{% macro duckdb__costline_floor_div(num, den) -%}
    (({{ num }}) // ({{ den }}) - case when ({{ num }}) % ({{ den }}) < 0 then 1 else 0 end)
{%- endmacro %}

{#- Whole micro-dollars of a DECIMAL(18,6) amount, and back. -#}
{% macro costline_to_micros(money_expr) -%}
    cast(cast({{ money_expr }} as decimal(38, 6)) * 1000000 as {{ costline_type_wide_int() }})
{%- endmacro %}
{% macro costline_from_micros(micros_expr) -%}
    cast(cast({{ micros_expr }} as decimal(38, 0)) * cast(0.000001 as decimal(18, 6)) as decimal(18, 6))
{%- endmacro %}

{#- money / count rounded half away from zero to the micro-dollar, null when count is 0.
    DuckDB divides decimals in floating point, so it is done on whole micro-dollars. -#}
{% macro costline_money_ratio(money_expr, count_expr) -%}
    {{ return(adapter.dispatch('costline_money_ratio', 'costline')(money_expr, count_expr)) }}
{%- endmacro %}
{% macro default__costline_money_ratio(money_expr, count_expr) -%}
    cast(round(cast({{ money_expr }} as numeric(38, 12)) / nullif({{ count_expr }}, 0), 6) as decimal(18, 6))
{%- endmacro %}
{% macro duckdb__costline_money_ratio(money_expr, count_expr) -%}
    case when ({{ count_expr }}) <> 0 then
        {{ costline_from_micros(
            "(" ~ costline_to_micros(money_expr) ~ " * 2 + sign(" ~ costline_to_micros(money_expr) ~ ") * abs(cast(" ~ count_expr ~ " as hugeint)))"
            ~ " // (2 * cast(" ~ count_expr ~ " as hugeint))"
        ) }}
    end
{%- endmacro %}

{#- 8-byte float for fractions (dbt.type_float() is a 4-byte REAL on DuckDB). -#}
{% macro costline_type_double() -%}
    {{ return(adapter.dispatch('costline_type_double', 'costline')()) }}
{%- endmacro %}
{% macro default__costline_type_double() -%}
    double precision
{%- endmacro %}
{% macro duckdb__costline_type_double() -%}
    double
{%- endmacro %}

{#- a / b as a fraction (double), null when the denominator is 0. -#}
{% macro costline_fraction(num, den) -%}
    cast({{ num }} as {{ costline_type_double() }}) / nullif(cast({{ den }} as {{ costline_type_double() }}), 0)
{%- endmacro %}

{#-
  Spark (dbt-spark, Spark 4, ANSI mode off as dbt-spark forces it). Each macro below exists
  because the ANSI default gives a different number on Spark with no error (docs/SPARK.md);
  tests/test_spark.py runs each on Spark and DuckDB and compares.
-#}

{#- `double precision` is not a Spark type. -#}
{% macro spark__costline_type_double() -%}
    double
{%- endmacro %}

{% macro spark__costline_type_wide_int() -%}
    decimal(38, 0)
{%- endmacro %}

{#- Exact integer quotients on decimal(38, 0): Spark's div() returns BIGINT and wraps past
    2^63 (a micro-dollar amount times a token weight gets there). num - pmod(num, den) is a
    multiple of den, so the decimal division is exact: floor division for den > 0. With `%`
    (the sign of num) instead of pmod it truncates toward zero. -#}
{% macro costline_spark_exact_div(num, den, remainder) -%}
    cast(
        (cast({{ num }} as decimal(38, 0)) - {{ remainder }}(cast({{ num }} as decimal(38, 0)), cast({{ den }} as decimal(38, 0))))
        / cast({{ den }} as decimal(38, 0))
    as decimal(38, 0))
{%- endmacro %}

{% macro spark__costline_floor_div(num, den) -%}
    {{ costline_spark_exact_div(num, den, 'pmod') }}
{%- endmacro %}

{#- Half away from zero on whole micro-dollars, as on DuckDB: Spark would divide the decimal
    at 12 digits, round there and again at 6 (a double rounding). -#}
{% macro spark__costline_money_ratio(money_expr, count_expr) -%}
    case when ({{ count_expr }}) <> 0 then
        {{ costline_from_micros(costline_spark_exact_div(
            "(" ~ costline_to_micros(money_expr) ~ " * 2 + sign(" ~ costline_to_micros(money_expr) ~ ") * abs(cast(" ~ count_expr ~ " as decimal(38, 0))))",
            "(2 * cast(" ~ count_expr ~ " as decimal(38, 0)))",
            'mod')) }}
    end
{%- endmacro %}

{#- median and percentile_* return DOUBLE on Spark. Exact: the middle value(s) of the sorted
    list, their mean truncated toward zero to `scale` as DuckDB's median of a DECIMAL does.
    element_at past the end (no rows) is NULL, as the median of nothing. -#}
{% macro spark__costline_median(expr, scale=none) -%}
    {%- set sorted -%} array_sort(collect_list({{ expr }})) {%- endset -%}
    {%- set middle_mean -%}
        ((element_at({{ sorted }}, cast(floor((size({{ sorted }}) + 1) / 2) as int))
          + element_at({{ sorted }}, cast(floor(size({{ sorted }}) / 2) + 1 as int))) / 2)
    {%- endset -%}
    case when size({{ sorted }}) > 0 then
    {%- if scale is none %}
        {{ middle_mean }}
    {%- else %}
        case when {{ middle_mean }} >= 0 then floor({{ middle_mean }}, {{ scale | int }})
            else ceil({{ middle_mean }}, {{ scale | int }}) end
    {%- endif %}
    end
{%- endmacro %}

{#- dbt-spark's dateadd does not bracket `interval` (dbt-adapters#1554: '-1 * a - b' became
    '-1 * a - b * 3600', so the interval was wrong with no error) and goes through Unix seconds,
    dropping fractions of a second. timestampadd is exact to the microsecond. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set units = {'millisecond': 'millisecond', 'microsecond': 'microsecond', 'second': 'second',
                     'minute': 'minute', 'hour': 'hour', 'day': 'day', 'week': 'week',
                     'month': 'month', 'quarter': 'quarter', 'year': 'year'} -%}
    {%- if datepart not in units -%}
        {{ exceptions.raise_compiler_error("dateadd: datepart '" ~ datepart ~ "' is not supported on Spark") }}
    {%- endif -%}
    timestampadd({{ units[datepart] }}, cast(({{ interval }}) as bigint), cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}

{#- dbt-spark's safe_cast is a plain cast: NULL on a bad value only while ANSI mode is off. -#}
{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
