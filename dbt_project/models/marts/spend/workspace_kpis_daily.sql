with daily as (

    select
        day,
        workspace,
        sum(cost_usd) as cost_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(failed_requests) as failed_requests,
        sum(labelled_requests) as labelled_requests,
        sum(error_calls) as error_calls,
        sum(retry_calls) as retry_calls,
        sum(retry_cost_usd) as retry_cost_usd
    from {{ ref('daily_spend') }}
    group by day, workspace

)

select
    cast(day as date) as day,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    {{ costline_money_ratio('cost_usd', 'requests') }} as avg_cost_per_request_usd,
    cast(successful_requests as bigint) as successful_requests,
    cast(failed_requests as bigint) as failed_requests,
    cast(labelled_requests as bigint) as labelled_requests,
    {{ costline_money_ratio('cost_usd', 'successful_requests') }} as cost_per_success_usd,
    {{ costline_fraction('successful_requests', 'labelled_requests') }} as success_rate,
    cast(error_calls as bigint) as error_calls,
    cast(retry_calls as bigint) as retry_calls,
    {{ costline_fraction('retry_calls', 'api_calls') }} as retry_rate,
    cast(retry_cost_usd as decimal(18, 6)) as retry_cost_usd,
    {{ costline_fraction('retry_cost_usd', 'cost_usd') }} as retry_cost_share
from daily
