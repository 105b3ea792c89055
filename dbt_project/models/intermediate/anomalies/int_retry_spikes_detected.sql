{#-
  retry_rate (doc: retry_rate_rule): a workspace-feature-day whose retry calls / calls
  exceed retry_rate_threshold, with at least retry_rate_min_calls calls. baseline is the
  threshold it was compared with.
-#}
with daily as (

    select
        day,
        workspace,
        feature,
        sum(api_calls) as api_calls,
        sum(retry_calls) as retry_calls,
        sum(retry_cost_usd) as retry_cost_usd
    from {{ ref('int_spend_hourly') }}
    group by day, workspace, feature

),

flagged as (

    select *
    from daily
    where api_calls >= {{ var('retry_rate_min_calls') }}
        and retry_calls > api_calls * cast({{ var('retry_rate_threshold') }} as decimal(9, 6))

)

select
    cast(day as {{ dbt.type_timestamp() }}) as detected_at,
    day,
    'retry_rate' as kind,
    workspace,
    feature,
    cast(null as {{ dbt.type_string() }}) as subject,
    cast(cast(retry_calls as decimal(38, 6)) / api_calls as decimal(18, 6)) as observed,
    cast({{ var('retry_rate_threshold') }} as decimal(18, 6)) as baseline,
    {{ costline_fraction('retry_calls', 'api_calls') }} / {{ var('retry_rate_threshold') }} - 1 as increase_pct,
    'retry rate ' || cast(cast(100.0 * retry_calls / api_calls as decimal(9, 1)) as {{ dbt.type_string() }})
    || '% (' || cast(retry_calls as {{ dbt.type_string() }}) || ' of '
    || cast(api_calls as {{ dbt.type_string() }}) || ' calls) above the '
    || cast(cast(100.0 * {{ var('retry_rate_threshold') }} as decimal(9, 1)) as {{ dbt.type_string() }})
    || '% threshold; retries and failed calls cost $'
    || cast(cast(retry_cost_usd as decimal(18, 2)) as {{ dbt.type_string() }})
        as detail
from flagged
