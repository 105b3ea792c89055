{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ costline_delete_window('day', include_reopened=true) }}"
    )
}}
-- depends_on: {{ ref('int_requests_reopened') }}
{%- set incremental = is_incremental() %}

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
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(failed_requests) as failed_requests,
        sum(labelled_requests) as labelled_requests,
        sum(error_calls) as error_calls,
        sum(retry_calls) as retry_calls,
        sum(unpriced_calls) as unpriced_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens,
        sum(reasoning_output_tokens) as reasoning_output_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(cost_usd) as cost_usd,
        sum(retry_cost_usd) as retry_cost_usd,
        sum(billed_cost_usd) as billed_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd
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
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    cast(failed_requests as bigint) as failed_requests,
    cast(labelled_requests as bigint) as labelled_requests,
    cast(error_calls as bigint) as error_calls,
    cast(retry_calls as bigint) as retry_calls,
    cast(unpriced_calls as bigint) as unpriced_calls,
    cast(input_tokens as bigint) as input_tokens,
    cast(output_tokens as bigint) as output_tokens,
    cast(cache_read_input_tokens as bigint) as cache_read_input_tokens,
    cast(cache_creation_input_tokens as bigint) as cache_creation_input_tokens,
    cast(reasoning_output_tokens as bigint) as reasoning_output_tokens,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(retry_cost_usd as decimal(18, 6)) as retry_cost_usd,
    cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(unattributed_cost_usd as decimal(18, 6)) as unattributed_cost_usd,
    {{ costline_money_ratio('cost_usd', 'requests') }} as avg_cost_per_request_usd,
    {{ costline_money_ratio('cost_usd', 'successful_requests') }} as cost_per_success_usd,
    {{ costline_fraction('successful_requests', 'labelled_requests') }} as success_rate,
    {{ costline_fraction('retry_calls', 'api_calls') }} as retry_rate
from daily
