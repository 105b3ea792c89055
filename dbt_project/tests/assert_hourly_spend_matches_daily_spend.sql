-- The two published grains of the same facts must agree on every day of the window.
with hourly as (

    select day, sum(cost_usd) as cost_usd, sum(api_calls) as api_calls, sum(requests) as requests
    from {{ ref('hourly_spend') }}
    where {{ costline_in_run_window('day') }}
    group by day

),

daily as (

    select day, sum(cost_usd) as cost_usd, sum(api_calls) as api_calls, sum(requests) as requests
    from {{ ref('daily_spend') }}
    where {{ costline_in_run_window('day') }}
    group by day

)

select
    coalesce(hourly.day, daily.day) as day,
    hourly.cost_usd as hourly_cost_usd,
    daily.cost_usd as daily_cost_usd,
    hourly.api_calls as hourly_api_calls,
    daily.api_calls as daily_api_calls,
    hourly.requests as hourly_requests,
    daily.requests as daily_requests
from hourly
full outer join daily
    on daily.day = hourly.day
where hourly.day is null
    or daily.day is null
    or hourly.cost_usd <> daily.cost_usd
    or hourly.api_calls <> daily.api_calls
    or hourly.requests <> daily.requests
