with deployments as (

    select
        deployed_at,
        scope,
        version,
        scope_kind,
        count(feature) as features_in_scope,
        sum(requests_before) as requests_before,
        sum(requests_after) as requests_after,
        sum(cost_before_usd) as cost_before_usd,
        sum(cost_after_usd) as cost_after_usd,
        sum(successful_before) as successful_before,
        sum(successful_after) as successful_after,
        sum(labelled_before) as labelled_before,
        sum(labelled_after) as labelled_after
    from {{ ref('int_deployments_compared') }}
    group by deployed_at, scope, version, scope_kind

),

compared as (

    select
        deployments.*,
        -- (cost_after / requests_after) / (cost_before / requests_before) - 1, from exact products
        case
            when requests_before > 0 and requests_after > 0 and cost_before_usd > 0 then
                {{ costline_fraction(
                    'cost_after_usd * requests_before - cost_before_usd * requests_after',
                    'cost_before_usd * requests_after') }}
        end as change_pct,
        case
            when requests_before > 0 and requests_after > 0 and cost_before_usd > 0
                then
                    cost_after_usd * requests_before
                    > cost_before_usd * requests_after * cast(1 + {{ var('deployment_change_pct') }} as decimal(9, 6))
                    or cost_after_usd * requests_before
                    < cost_before_usd * requests_after * cast(1 - {{ var('deployment_change_pct') }} as decimal(9, 6))
            else false
        end as flagged
    from deployments

)

select
    cast(deployed_at as {{ dbt.type_timestamp() }}) as deployed_at,
    cast(scope as {{ dbt.type_string() }}) as scope,
    cast(version as {{ dbt.type_string() }}) as version,
    cast(scope_kind as {{ dbt.type_string() }}) as scope_kind,
    cast(features_in_scope as bigint) as features_in_scope,
    cast(requests_before as bigint) as requests_before,
    cast(requests_after as bigint) as requests_after,
    cast(cost_before_usd as decimal(18, 6)) as cost_before_usd,
    cast(cost_after_usd as decimal(18, 6)) as cost_after_usd,
    {{ costline_money_ratio('cost_before_usd', 'requests_before') }} as cost_per_request_before_usd,
    {{ costline_money_ratio('cost_after_usd', 'requests_after') }} as cost_per_request_after_usd,
    cast(change_pct as {{ costline_type_double() }}) as change_pct,
    {{ costline_fraction('successful_before', 'labelled_before') }} as success_rate_before,
    {{ costline_fraction('successful_after', 'labelled_after') }} as success_rate_after,
    cast(flagged as boolean) as flagged
from compared
