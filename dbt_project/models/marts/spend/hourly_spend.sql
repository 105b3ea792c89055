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
{%- set counts = ['api_calls', 'requests', 'successful_requests', 'labelled_requests', 'error_calls',
    'retry_calls', 'input_tokens', 'output_tokens'] %}
{%- set money = ['estimated_cost_usd', 'cost_usd', 'retry_cost_usd', 'billed_cost_usd'] %}
{%- set measures = counts + money + costline_spend_credits() %}

with hourly as (

    select * from {{ ref('int_spend_hourly') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

by_hour as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        {{ costline_sum_columns(measures) }}
    from hourly
    group by hour, day, workspace, feature, provider, model

)

select
    cast(hour as {{ dbt.type_timestamp() }}) as hour,
    cast(day as date) as day,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(model as {{ dbt.type_string() }}) as model,
    {{ costline_cast_columns(counts, 'bigint') }},
    {{ costline_cast_columns(money, 'decimal(18, 6)') }},
    {{ costline_is_partial_day('day') }} as is_partial,
    cast({{ costline_cost_basis('cost_usd', 'billed_cost_usd') }} as {{ dbt.type_string() }}) as cost_basis,
    cast(credits_usd as decimal(18, 6)) as credits_usd,
    cast(cost_usd + credits_usd as decimal(18, 6)) as net_cost_usd
from by_hour
