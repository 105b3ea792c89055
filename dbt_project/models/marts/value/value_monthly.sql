{#-
  Value per AI dollar and cost per result, per month, workspace and feature (doc: value_rule).
  Cost and successes are daily_spend's; resolved requests and value come from
  int_request_values. Billed money with no calls (feature '(unattributed)') has no outcomes and
  is left out, as in feature_results_monthly.
-#}
with spend as (

    select
        month,
        workspace,
        feature,
        sum(cost_usd) as cost_usd,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests
    from {{ ref('daily_spend') }}
    where feature <> '(unattributed)'
    group by month, workspace, feature

),

valued as (

    select
        month,
        workspace,
        feature,
        sum(case when is_resolved then 1 else 0 end) as resolved_requests,
        sum(case when has_value then 1 else 0 end) as valued_requests,
        sum(value_usd) as value_usd
    from {{ ref('int_request_values') }}
    group by month, workspace, feature

)

select
    cast(spend.month as {{ dbt.type_string() }}) as month,
    cast(spend.workspace as {{ dbt.type_string() }}) as workspace,
    cast(spend.feature as {{ dbt.type_string() }}) as feature,
    cast(spend.cost_usd as decimal(18, 6)) as cost_usd,
    cast(spend.requests as bigint) as requests,
    cast(spend.successful_requests as bigint) as successful_requests,
    cast(coalesce(valued.resolved_requests, 0) as bigint) as resolved_requests,
    cast(coalesce(valued.valued_requests, 0) as bigint) as valued_requests,
    cast(coalesce(valued.value_usd, 0) as decimal(18, 6)) as value_usd,
    {{ costline_money_ratio('spend.cost_usd', 'spend.successful_requests') }} as cost_per_success_usd,
    {{ costline_money_ratio('spend.cost_usd', 'coalesce(valued.resolved_requests, 0)') }} as cost_per_resolved_usd,
    -- Null, not 0, when nothing carried a value: "no value recorded" is not "worth nothing".
    case
        when coalesce(valued.valued_requests, 0) > 0
            then {{ costline_fraction('valued.value_usd', 'spend.cost_usd') }}
    end as value_per_dollar
from spend
left join valued
    on valued.month = spend.month
        and valued.workspace = spend.workspace
        and valued.feature = spend.feature
