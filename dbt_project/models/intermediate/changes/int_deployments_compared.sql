{#-
  Each deployment, per feature in its scope, over the deployment_window_hours whole clock
  hours before the deployment's hour and as many from the first whole hour after it
  (a deploy at 10:30 compares 10:00-24h..10:00 with 11:00..11:00+24h; the hour it happened
  in is in neither). Costs from calls on their own hour, requests on their first attempt's
  hour: the same counting rule as every other mart. Scope: '*' is everything, else the
  workspace or the feature of that name. Unattributed bill money is not a feature's cost
  and is left out.
-#}
{%- set window_hours = var('deployment_window_hours') | int %}

with deployments as (

    select distinct
        deployed_at,
        scope,
        version,
        {{ dbt.date_trunc('hour', 'deployed_at') }} as deployed_hour
    from {{ ref('stg_config__deployments') }}

),

hour_offsets as (

    {{ dbt.generate_series(window_hours) }}

),

deployment_hours as (

    select
        deployments.deployed_at,
        deployments.scope,
        deployments.version,
        'before' as side,
        {{ dbt.dateadd('hour', '-1 * hour_offsets.generated_number', 'deployments.deployed_hour') }} as hour
    from deployments
    cross join hour_offsets

    union all

    select
        deployments.deployed_at,
        deployments.scope,
        deployments.version,
        'after' as side,
        {{ dbt.dateadd(
            'hour',
            'hour_offsets.generated_number - case when deployments.deployed_at = deployments.deployed_hour then 1 else 0 end',
            'deployments.deployed_hour') }} as hour
    from deployments
    cross join hour_offsets

),

hourly as (

    select *
    from {{ ref('int_spend_hourly') }}
    where feature <> '(unattributed)'

),

scope_features as (

    select distinct feature from hourly

),

scope_workspaces as (

    select distinct workspace from hourly

),

in_scope as (

    select
        deployment_hours.deployed_at,
        deployment_hours.scope,
        deployment_hours.version,
        deployment_hours.side,
        hourly.workspace,
        hourly.feature,
        hourly.requests,
        hourly.successful_requests,
        hourly.labelled_requests,
        hourly.input_tokens + hourly.output_tokens as tokens,
        hourly.cost_usd
    from deployment_hours
    inner join hourly
        on hourly.hour = deployment_hours.hour
    where deployment_hours.scope = '*'
        or hourly.workspace = deployment_hours.scope
        or hourly.feature = deployment_hours.scope

)

select
    deployments.deployed_at,
    deployments.scope,
    deployments.version,
    case
        when deployments.scope = '*' then 'all'
        when scope_feature.feature is not null then 'feature'
        when scope_workspace.workspace is not null then 'workspace'
        else 'unmatched'
    end as scope_kind,
    in_scope.feature,
    sum(case when in_scope.side = 'before' then in_scope.requests else 0 end) as requests_before,
    sum(case when in_scope.side = 'after' then in_scope.requests else 0 end) as requests_after,
    sum(case when in_scope.side = 'before' then in_scope.cost_usd else 0 end) as cost_before_usd,
    sum(case when in_scope.side = 'after' then in_scope.cost_usd else 0 end) as cost_after_usd,
    sum(case when in_scope.side = 'before' then in_scope.tokens else 0 end) as tokens_before,
    sum(case when in_scope.side = 'after' then in_scope.tokens else 0 end) as tokens_after,
    sum(case when in_scope.side = 'before' then in_scope.successful_requests else 0 end) as successful_before,
    sum(case when in_scope.side = 'after' then in_scope.successful_requests else 0 end) as successful_after,
    sum(case when in_scope.side = 'before' then in_scope.labelled_requests else 0 end) as labelled_before,
    sum(case when in_scope.side = 'after' then in_scope.labelled_requests else 0 end) as labelled_after
from deployments
left join in_scope
    on in_scope.deployed_at = deployments.deployed_at
        and in_scope.scope = deployments.scope
        and in_scope.version = deployments.version
left join scope_features as scope_feature
    on scope_feature.feature = deployments.scope
left join scope_workspaces as scope_workspace
    on scope_workspace.workspace = deployments.scope
group by
    deployments.deployed_at,
    deployments.scope,
    deployments.version,
    case
        when deployments.scope = '*' then 'all'
        when scope_feature.feature is not null then 'feature'
        when scope_workspace.workspace is not null then 'workspace'
        else 'unmatched'
    end,
    in_scope.feature
