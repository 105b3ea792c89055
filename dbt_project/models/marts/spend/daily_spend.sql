{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_window('day', include_reopened=true) }}",
        post_hook=["{{ costline_fill_intraday_columns() }}", "{{ costline_fill_credit_columns() }}"]
    )
}}
-- depends_on: {{ ref('int_requests_reopened') }}
{%- set incremental = is_incremental() %}
{%- set counts = costline_spend_counts() %}
{%- set money = costline_spend_money() %}
{%- set measures = counts + money + costline_spend_credits() %}

with hourly as (

    select * from {{ ref('int_spend_hourly') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

daily as (

    select
        day,
        month,
        workspace,
        feature,
        provider,
        model,
        {{ costline_sum_columns(measures) }}
    from hourly
    group by day, month, workspace, feature, provider, model

)

select
    cast(day as date) as day,
    cast(month as {{ dbt.type_string() }}) as month,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(model as {{ dbt.type_string() }}) as model,
    {{ costline_cast_columns(counts, 'bigint') }},
    {{ costline_cast_columns(money, 'decimal(18, 6)') }},
    {{ costline_money_ratio('cost_usd', 'requests') }} as avg_cost_per_request_usd,
    {{ costline_money_ratio('cost_usd', 'successful_requests') }} as cost_per_success_usd,
    {{ costline_fraction('successful_requests', 'labelled_requests') }} as success_rate,
    {{ costline_fraction('retry_calls', 'api_calls') }} as retry_rate,
    {{ costline_is_partial_day('day') }} as is_partial,
    cast({{ costline_cost_basis('cost_usd', 'billed_cost_usd') }} as {{ dbt.type_string() }}) as cost_basis,
    -- Credits (doc: credit_rule) after the older columns: cost_usd stays the usage bill.
    cast(credits_usd as decimal(18, 6)) as credits_usd,
    cast(cost_usd + credits_usd as decimal(18, 6)) as net_cost_usd
from daily
