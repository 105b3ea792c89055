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
