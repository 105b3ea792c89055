{#-
  What each request was worth, in dollars (doc: value_rule): the value_usd of its latest
  resolution when that resolution says resolved, plus every revenue record it has. Only
  requests with a resolution or a revenue record are here, on the month, workspace and
  feature of their first attempt (int_requests_resolved). Rebuilt whole: outcomes with a
  resolution or revenue are a small share of the calls, and a late one may change any month.
-#}
with valued_outcomes as (

    select
        request_id,
        kind,
        value,
        value_usd,
        row_number() over (
            partition by request_id, kind
            -- The same tie order as outcome precedence: the latest record, then the one loaded last.
            order by recorded_at desc, source_folder desc, source_file desc, source_line desc
        ) as recency_rank
    from {{ ref('stg_telemetry__outcomes') }}
    where kind in ('resolution', 'revenue')

),

per_request as (

    select
        request_id,
        max(case when kind = 'resolution' and recency_rank = 1 and value = 'resolved' then 1 else 0 end)
            as is_resolved,
        -- An unresolved ticket produced nothing, whatever value it was sent with.
        sum(case when kind = 'resolution' and recency_rank = 1 and value = 'resolved' then value_usd end)
            as resolution_value_usd,
        sum(case when kind = 'revenue' then value_usd end) as revenue_usd
    from valued_outcomes
    group by request_id

)

select
    requests.request_id,
    requests.month,
    requests.workspace,
    requests.feature,
    per_request.is_resolved = 1 as is_resolved,
    (per_request.resolution_value_usd is not null or per_request.revenue_usd is not null) as has_value,
    cast(
        coalesce(per_request.resolution_value_usd, 0) + coalesce(per_request.revenue_usd, 0) as decimal(18, 6)
    ) as value_usd
from per_request
inner join {{ ref('int_requests_resolved') }} as requests
    on requests.request_id = per_request.request_id
