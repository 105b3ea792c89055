{#-
  Every anomaly kind in one table. cost_spike rows name the hour's top feature and top model
  and the first hour of their episode (consecutive spike hours of the workspace); a
  retry_rate or token_inflation row is its own episode (episode_started_at = detected_at).
-#}
with unioned as (

    select
        detected_at, day, kind, workspace, feature, subject, observed, baseline, increase_pct, detail,
        top_feature, top_model, episode_started_at
    from {{ ref('int_cost_spikes_detected') }}

    union all

    select
        detected_at, day, kind, workspace, feature, subject, observed, baseline, increase_pct, detail,
        cast(null as {{ dbt.type_string() }}) as top_feature,
        cast(null as {{ dbt.type_string() }}) as top_model,
        detected_at as episode_started_at
    from {{ ref('int_retry_spikes_detected') }}

    union all

    select
        detected_at, day, kind, workspace, feature, subject, observed, baseline, increase_pct, detail,
        cast(null as {{ dbt.type_string() }}) as top_feature,
        cast(null as {{ dbt.type_string() }}) as top_model,
        detected_at as episode_started_at
    from {{ ref('int_token_inflations_detected') }}

)

select
    cast(detected_at as {{ dbt.type_timestamp() }}) as detected_at,
    cast(day as date) as day,
    cast({{ costline_month_label('day') }} as {{ dbt.type_string() }}) as month,
    cast(kind as {{ dbt.type_string() }}) as kind,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(subject as {{ dbt.type_string() }}) as subject,
    cast(observed as decimal(18, 6)) as observed,
    cast(baseline as decimal(18, 6)) as baseline,
    cast(increase_pct as {{ costline_type_double() }}) as increase_pct,
    cast(detail as {{ dbt.type_string() }}) as detail,
    cast(top_feature as {{ dbt.type_string() }}) as top_feature,
    cast(top_model as {{ dbt.type_string() }}) as top_model,
    cast(episode_started_at as {{ dbt.type_timestamp() }}) as episode_started_at
from unioned
