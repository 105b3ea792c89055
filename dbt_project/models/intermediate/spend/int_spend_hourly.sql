{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_window('day', include_reopened=true) }}"
    )
}}
{#-
  The aggregate every mart reads: per UTC hour, workspace, feature, provider, model and
  prompt version. Calls and cost count on their own hour; requests (and their outcomes) on
  the hour of their first attempt; billed money no call carries at 00:00 of its day under
  feature '(unattributed)'; credits (credits_usd) on the hour and row of the usage they
  follow, else as billed money no call carries. Rebuilds the window's days and the re-opened
  days.
-#}
-- depends_on: {{ ref('int_requests_reopened') }}
{%- set incremental = is_incremental() %}

with calls as (

    select * from {{ ref('int_calls_attributed') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

requests as (

    select * from {{ ref('int_requests_resolved') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

unattributed as (

    select * from {{ ref('int_billing_costs_unattributed') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

credits as (

    select * from {{ ref('int_billing_credits_allocated') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

call_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        {{ costline_spend_measure_values({
            'api_calls': 'count(*)',
            'error_calls': 'sum(case when is_error then 1 else 0 end)',
            'retry_calls': 'sum(case when is_retry then 1 else 0 end)',
            'unpriced_calls': 'sum(case when is_priced then 0 else 1 end)',
            'input_tokens': 'sum(input_tokens)',
            'output_tokens': 'sum(output_tokens)',
            'cache_read_input_tokens': 'sum(cache_read_input_tokens)',
            'cache_creation_input_tokens': 'sum(cache_creation_input_tokens)',
            'reasoning_output_tokens': 'sum(reasoning_output_tokens)',
            'estimated_cost_usd': 'sum(estimated_cost_usd)',
            'cost_usd': 'sum(cost_usd)',
            'retry_cost_usd': 'sum(case when is_retry or is_error then cost_usd else 0 end)',
            'billed_cost_usd': 'sum(case when is_billed then cost_usd else 0 end)',
        }) }},
        min(started_at) as first_started_at
    from calls
    group by hour, day, workspace, feature, provider, model, prompt_version

),

request_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        {{ costline_spend_measure_values({
            'requests': 'count(*)',
            'successful_requests': 'sum(case when is_success then 1 else 0 end)',
            'failed_requests': 'sum(case when is_failure then 1 else 0 end)',
            'labelled_requests': 'sum(case when is_labelled then 1 else 0 end)',
        }) }},
        cast(null as {{ dbt.type_timestamp() }}) as first_started_at
    from requests
    group by hour, day, workspace, feature, provider, model, prompt_version

),

unattributed_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        {{ costline_spend_measure_values({
            'cost_usd': 'sum(cost_usd)',
            'billed_cost_usd': 'sum(cost_usd)',
            'unattributed_cost_usd': 'sum(cost_usd)',
        }) }},
        cast(null as {{ dbt.type_timestamp() }}) as first_started_at
    from unattributed
    group by hour, day, workspace, feature, provider, model

),

credit_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        {{ costline_spend_measure_values({
            'credits_usd': 'sum(credits_usd)',
        }) }},
        cast(null as {{ dbt.type_timestamp() }}) as first_started_at
    from credits
    group by hour, day, workspace, feature, provider, model, prompt_version

),

unioned as (

    select * from call_rows
    union all
    select * from request_rows
    union all
    select * from unattributed_rows
    union all
    select * from credit_rows

)

select
    cast(hour as {{ dbt.type_timestamp() }}) as hour,
    day,
    {{ costline_month_label('day') }} as month,
    workspace,
    feature,
    provider,
    model,
    prompt_version,
    {{ costline_cast_sums(costline_spend_counts(), 'bigint') }},
    {{ costline_cast_sums(costline_spend_money() + costline_spend_credits(), 'decimal(18, 6)') }},
    min(first_started_at) as first_started_at
from unioned
group by hour, day, workspace, feature, provider, model, prompt_version
