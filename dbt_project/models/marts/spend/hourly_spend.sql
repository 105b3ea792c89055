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

by_hour as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(labelled_requests) as labelled_requests,
        sum(error_calls) as error_calls,
        sum(retry_calls) as retry_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(cost_usd) as cost_usd,
        sum(retry_cost_usd) as retry_cost_usd
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
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    cast(labelled_requests as bigint) as labelled_requests,
    cast(error_calls as bigint) as error_calls,
    cast(retry_calls as bigint) as retry_calls,
    cast(input_tokens as bigint) as input_tokens,
    cast(output_tokens as bigint) as output_tokens,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(retry_cost_usd as decimal(18, 6)) as retry_cost_usd
from by_hour
