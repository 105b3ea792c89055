{#-
  cost_spike (doc: cost_spike_rule): a workspace-hour whose cost is more than cost_spike_pct
  above its baseline, the median cost of the same clock hour over the previous
  cost_spike_baseline_days days, and at least cost_spike_min_increase_usd above it. An hour
  of a previous day with no spend counts as $0. A workspace is judged only once it has that
  many days of history (its first day is at least that many days back), so a new
  workspace's first day is not a wall of "spikes" against a baseline of zero.
  Billed spend that no call carries (feature '(unattributed)') has no clock hour of its own
  (it sits at the day's 00:00 in hourly_spend), so it is left out of the hourly series.

  Only closed hours are judged (costline_hour_closed, macros/intraday.sql): the hour still
  running when an hourly run starts has a fraction of its calls, so its cost is no signal.
  Its baseline hours are on previous days, always closed.

  Each spike names the hour's top feature and top model by cost (ties by name), and the
  episode it belongs to: consecutive spike hours of one workspace (a loop spikes every hour
  until fixed) are one episode, episode_started_at its first hour (gaps and islands: an hour
  starts an episode when the hour before it was no spike).
-#}
{%- set baseline_days = var('cost_spike_baseline_days') | int %}

with hourly as (

    select hour, day, workspace, feature, model, cost_usd
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
        and {{ costline_hour_closed('workspace_hours.hour') }}
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

episode_marks as (

    select
        hour,
        workspace,
        case
            when lag(hour) over (partition by workspace order by hour)
                = {{ dbt.dateadd('hour', -1, 'hour') }}
                then 0
            else 1
        end as starts_episode
    from spikes

),

episodes as (

    select
        hour,
        workspace,
        max(case when starts_episode = 1 then hour end) over (
            partition by workspace order by hour rows between unbounded preceding and current row
        ) as episode_started_at
    from episode_marks

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

),

model_costs as (

    select
        hourly.hour,
        hourly.workspace,
        hourly.model,
        sum(hourly.cost_usd) as cost_usd
    from hourly
    inner join spikes
        on spikes.hour = hourly.hour
            and spikes.workspace = hourly.workspace
    group by hourly.hour, hourly.workspace, hourly.model

),

top_models as (

    select
        model_costs.*,
        row_number() over (
            partition by hour, workspace order by cost_usd desc, model asc
        ) as model_rank
    from model_costs

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
        as detail,
    top_features.feature as top_feature,
    top_models.model as top_model,
    cast(episodes.episode_started_at as {{ dbt.type_timestamp() }}) as episode_started_at
from spikes
left join top_features
    on top_features.hour = spikes.hour
        and top_features.workspace = spikes.workspace
        and top_features.feature_rank = 1
left join top_models
    on top_models.hour = spikes.hour
        and top_models.workspace = spikes.workspace
        and top_models.model_rank = 1
inner join episodes
    on episodes.hour = spikes.hour
        and episodes.workspace = spikes.workspace
