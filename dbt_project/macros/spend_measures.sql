{#- The additive measures of the spend aggregates, named once: int_spend_hourly builds them,
    hourly_spend and daily_spend roll them up and pin their published types. -#}

{% macro costline_spend_counts() -%}
    {{ return(['api_calls', 'requests', 'successful_requests', 'failed_requests', 'labelled_requests',
               'error_calls', 'retry_calls', 'unpriced_calls', 'input_tokens', 'output_tokens',
               'cache_read_input_tokens', 'cache_creation_input_tokens', 'reasoning_output_tokens']) }}
{%- endmacro %}

{% macro costline_spend_money() -%}
    {{ return(['estimated_cost_usd', 'cost_usd', 'retry_cost_usd', 'billed_cost_usd', 'unattributed_cost_usd']) }}
{%- endmacro %}

{#- Credits (doc: credit_rule) are money too, but not usage: kept apart so cost_usd stays the
    usage bill (never negative) and a mart adds them to get the net bill. The published marts
    put these columns after their older ones (a table only ever gains columns at its end). -#}
{% macro costline_spend_credits() -%}
    {{ return(['credits_usd']) }}
{%- endmacro %}

{#- One branch of a union of row kinds: the measures this kind carries (name -> expression),
    every other measure as a typed zero, in the one order all branches share. -#}
{% macro costline_spend_measure_values(given) -%}
    {%- set money = costline_spend_money() + costline_spend_credits() %}
    {%- for column in costline_spend_counts() + money %}
        {{ given.get(column, "cast(0 as decimal(18, 6))" if column in money else "0") }} as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Post-hook of the incremental marts that gained credits_usd / net_cost_usd: rows built
    before credits were their own line get 0 credits and their cost as net (those days'
    credits, if any, are still inside cost_usd until a backfill restates them), so a sum of
    credits or net cost never turns NULL. A no-op on every later run. -#}
{% macro costline_fill_credit_columns() -%}
    {{ return(adapter.dispatch('costline_fill_credit_columns', 'costline')()) }}
{%- endmacro %}
{% macro default__costline_fill_credit_columns() -%}
    {%- if is_incremental() -%}
        update {{ this }}
        set credits_usd = 0, net_cost_usd = cost_usd
        where credits_usd is null
    {%- endif -%}
{%- endmacro %}
{#- Spark has no UPDATE on Parquet tables: a Spark warehouse from before credits restates
    those days with `costline backfill` (its window rebuilds them). -#}
{% macro spark__costline_fill_credit_columns() -%}
{%- endmacro %}
