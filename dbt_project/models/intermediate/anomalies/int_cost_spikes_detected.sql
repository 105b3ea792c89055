{#-
  cost_spike (doc: cost_spike_rule): a workspace-hour whose cost is more than cost_spike_pct
  above its baseline, the median cost of the same clock hour over the previous
  cost_spike_baseline_days days, and at least cost_spike_min_increase_usd above it. An hour
  of a previous day with no spend counts as $0. A workspace is judged only once it has that
  many days of history (its first day is at least that many days back), so a new
  workspace's first day is not a wall of "spikes" against a baseline of zero.
  Billed spend that no call carries (feature '(unattributed)') has no clock hour of its own
  (it sits at the day's 00:00 in hourly_spend), so it is left out of the hourly series.
-#}
{%- set baseline_days = var('cost_spike_baseline_days') | int %}

with hourly as (

    select hour, day, workspace, feature, cost_usd
    from {{ ref('int_spend_hourly') }}
    where feature <> '(unattributed)'

),

workspace_hours as (

    select
        hour,
        day,
        workspace,
        sum(cost_usd) as cost_usd
    from hourly
    group by hour, day, workspace

),

workspace_first_days as (

    select workspace, min(day) as first_day
    from workspace_hours
    group by workspace

),

lookbacks as (

    {% for days_back in range(1, baseline_days + 1) -%}
        select {{ days_back }} as days_back
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

observations as (

    select workspace_hours.*
    from workspace_hours
    inner join workspace_first_days
        on workspace_first_days.workspace = workspace_hours.workspace
    where workspace_hours.cost_usd > 0
        and workspace_hours.day
        >= cast({{ dbt.dateadd('day', baseline_days, 'workspace_first_days.first_day') }} as date)

),

baseline_points as (

    select
        observations.hour,
        observations.day,
        observations.workspace,
        observations.cost_usd as observed,
        coalesce(previous.cost_usd, 0) as previous_cost_usd
    from observations
    cross join lookbacks
    left join workspace_hours as previous
        on previous.workspace = observations.workspace
            and previous.hour = {{ dbt.dateadd('day', '-1 * lookbacks.days_back', 'observations.hour') }}

),

baselines as (

    select
        hour,
        day,
        workspace,
        max(observed) as observed,
        cast({{ costline_median('previous_cost_usd', scale=6) }} as decimal(18, 6)) as baseline
    from baseline_points
    group by hour, day, workspace

),

spikes as (

    select *
    from baselines
    where observed > baseline * cast(1 + {{ var('cost_spike_pct') }} as decimal(9, 6))
        and observed - baseline >= cast({{ var('cost_spike_min_increase_usd') }} as decimal(18, 6))

),

feature_costs as (

    select
        hourly.hour,
        hourly.workspace,
        hourly.feature,
        sum(hourly.cost_usd) as cost_usd
    from hourly
    inner join spikes
        on spikes.hour = hourly.hour
            and spikes.workspace = hourly.workspace
    group by hourly.hour, hourly.workspace, hourly.feature

),

top_features as (

    select
        feature_costs.*,
        row_number() over (
            partition by hour, workspace order by cost_usd desc, feature asc
        ) as feature_rank
    from feature_costs

)

select
    cast(spikes.hour as {{ dbt.type_timestamp() }}) as detected_at,
    spikes.day,
    'cost_spike' as kind,
    spikes.workspace,
    '(all)' as feature,
    cast(null as {{ dbt.type_string() }}) as subject,
    cast(spikes.observed as decimal(18, 6)) as observed,
    cast(spikes.baseline as decimal(18, 6)) as baseline,
    {{ costline_fraction('spikes.observed - spikes.baseline', 'spikes.baseline') }} as increase_pct,
    'hourly cost $' || cast(cast(spikes.observed as decimal(18, 2)) as {{ dbt.type_string() }})
    || ' vs $' || cast(cast(spikes.baseline as decimal(18, 2)) as {{ dbt.type_string() }})
    || ' median of the same hour over the previous {{ baseline_days }} days (+$'
    || cast(cast(spikes.observed - spikes.baseline as decimal(18, 2)) as {{ dbt.type_string() }})
    || '); top feature ' || top_features.feature
    || ' $' || cast(cast(top_features.cost_usd as decimal(18, 2)) as {{ dbt.type_string() }})
        as detail
from spikes
left join top_features
    on top_features.hour = spikes.hour
        and top_features.workspace = spikes.workspace
        and top_features.feature_rank = 1
