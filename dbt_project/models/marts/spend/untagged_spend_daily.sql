{#-
  How much of each day's spend names no workspace or no feature: such calls are priced and
  counted under the untagged label (no dollar is dropped for a missing tag), and this is the
  figure that says how much tagging is left to do. Billed money with no calls
  ('(unattributed)') is not untagged: it has no call to tag.
-#}
{%- set untagged = "'" ~ var('untagged_label') ~ "'" %}

with daily as (

    select
        day,
        sum(cost_usd) as cost_usd,
        sum(case when workspace = {{ untagged }} or feature = {{ untagged }} then cost_usd else 0 end)
            as untagged_cost_usd,
        sum(case when workspace = {{ untagged }} then cost_usd else 0 end) as untagged_workspace_cost_usd,
        sum(case when feature = {{ untagged }} then cost_usd else 0 end) as untagged_feature_cost_usd,
        sum(api_calls) as api_calls,
        sum(case when workspace = {{ untagged }} or feature = {{ untagged }} then api_calls else 0 end)
            as untagged_calls
    from {{ ref('daily_spend') }}
    group by day

)

select
    cast(day as date) as day,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(untagged_cost_usd as decimal(18, 6)) as untagged_cost_usd,
    cast(untagged_workspace_cost_usd as decimal(18, 6)) as untagged_workspace_cost_usd,
    cast(untagged_feature_cost_usd as decimal(18, 6)) as untagged_feature_cost_usd,
    cast(api_calls as bigint) as api_calls,
    cast(untagged_calls as bigint) as untagged_calls,
    {{ costline_fraction('untagged_cost_usd', 'cost_usd') }} as untagged_share
from daily
