-- Each resolved request is counted exactly once, on its first attempt's day.
with resolved as (

    select day, count(*) as requests
    from {{ ref('int_requests_resolved') }}
    where {{ costline_in_run_window('day') }}
    group by day

),

published as (

    select day, sum(requests) as requests
    from {{ ref('daily_spend') }}
    where {{ costline_in_run_window('day') }}
    group by day

)

select
    coalesce(resolved.day, published.day) as day,
    resolved.requests as resolved_requests,
    published.requests as published_requests
from resolved
full outer join published
    on published.day = resolved.day
where coalesce(resolved.requests, 0) <> coalesce(published.requests, 0)
