{#-
  The switch of learned effective prices (doc: effective_rate_rule): dbt var `effective_rates`
  when set (true/false wins), else the environment's COSTLINE_EFFECTIVE_RATES (1, true, on or
  yes = on), read only while executing like the run window's variables (macros/run_window.sql
  says why). Off when neither says on.
-#}
{% macro costline_effective_rates_enabled() -%}
    {%- set given = var('effective_rates', none) -%}
    {%- if given is none or (given is string and (given | trim) == '') -%}
        {%- set given = execute and (env_var('COSTLINE_EFFECTIVE_RATES', '') | trim | lower) in ('1', 'true', 'on', 'yes') -%}
    {%- elif given is string -%}
        {%- set given = (given | trim | lower) in ('1', 'true', 'on', 'yes') -%}
    {%- endif -%}
    {{ return(given) }}
{%- endmacro %}

{#- The first day of the month before `iso_day`'s month ('YYYY-MM-DD'), none for an open start:
    learned rates use the call's month and the one before, so older billed days are not read. -#}
{% macro costline_previous_month_start(iso_day) -%}
    {%- if iso_day == '1900-01-01' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set day = modules.datetime.date.fromisoformat(iso_day) -%}
    {%- set previous = (day.replace(day=1) - modules.datetime.timedelta(days=1)).replace(day=1) -%}
    {{ return(previous.isoformat()) }}
{%- endmacro %}
