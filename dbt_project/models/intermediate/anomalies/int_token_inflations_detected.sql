{#-
  token_inflation (doc: token_inflation_rule): a feature's tokens rise more than
  token_inflation_pct without a success-rate gain of at least success_gain_points, either
  with a new prompt version (tokens per call against the previous version, exactly
  prompt_versions.flagged) or across a deployment in its scope (tokens per request over the
  hours before and after). A side with no labelled requests shows no gain, so it is flagged.
  detected_at is the day (the version's first day, the deployment's day); workspace is
  '(all)' (a feature can span workspaces) or the deployment's workspace scope.
-#}
with prompt_changes as (

    select *
    from {{ ref('int_prompt_versions_compared') }}
    where flagged

),

deployment_changes as (

    select
        deployments.*,
        {{ costline_fraction('successful_before', 'labelled_before') }} as success_rate_before,
        {{ costline_fraction('successful_after', 'labelled_after') }} as success_rate_after,
        case
            when labelled_before > 0 and labelled_after > 0 then
                cast(successful_after as decimal(38, 6)) * labelled_before
                - cast(successful_before as decimal(38, 6)) * labelled_after
                >= cast({{ var('success_gain_points') }} as decimal(9, 6)) * labelled_before * labelled_after
        end as success_gained
    from {{ ref('int_deployments_compared') }} as deployments
    where feature is not null
        and requests_before > 0
        and requests_after > 0
        and tokens_before > 0
        -- tokens/request after > tokens/request before * (1 + pct)
        and cast(tokens_after as decimal(38, 6)) * requests_before
        > cast(tokens_before as decimal(38, 6)) * requests_after
        * cast(1 + {{ var('token_inflation_pct') }} as decimal(9, 6))

),

from_prompts as (

    select
        cast(cast(first_seen as date) as {{ dbt.type_timestamp() }}) as detected_at,
        cast(first_seen as date) as day,
        'token_inflation' as kind,
        '(all)' as workspace,
        feature,
        'prompt_version ' || prompt_version as subject,
        cast(previous_avg_tokens_per_call as decimal(18, 6)) as observed_previous,
        cast(avg_tokens_per_call as decimal(18, 6)) as observed_now,
        token_change_pct as increase_pct,
        'prompt ' || prompt_version || ' averages '
        || cast(cast(avg_tokens_per_call as decimal(18, 1)) as {{ dbt.type_string() }})
        || ' tokens per call vs '
        || cast(cast(previous_avg_tokens_per_call as decimal(18, 1)) as {{ dbt.type_string() }})
        || ' for ' || previous_version
        || ' (+'
        || cast(cast(100 * token_change_pct as decimal(18, 1)) as {{ dbt.type_string() }})
        || '%); success rate '
        || coalesce(
            cast(cast(100 * previous_success_rate as decimal(9, 1)) as {{ dbt.type_string() }}) || '%', 'unknown'
        )
        || ' -> '
        || coalesce(cast(cast(100 * success_rate as decimal(9, 1)) as {{ dbt.type_string() }}) || '%', 'unknown')
            as detail
    from prompt_changes

),

from_deployments as (

    select
        cast(cast(deployed_at as date) as {{ dbt.type_timestamp() }}) as detected_at,
        cast(deployed_at as date) as day,
        'token_inflation' as kind,
        case when scope_kind = 'workspace' then scope else '(all)' end as workspace,
        feature,
        'deployment ' || version || ' (' || scope || ')' as subject,
        cast(cast(tokens_before as decimal(38, 6)) / requests_before as decimal(18, 6)) as observed_previous,
        cast(cast(tokens_after as decimal(38, 6)) / requests_after as decimal(18, 6)) as observed_now,
        {{ costline_fraction(
            'cast(tokens_after as decimal(38, 6)) * requests_before - cast(tokens_before as decimal(38, 6)) * requests_after',
            'cast(tokens_before as decimal(38, 6)) * requests_after') }} as increase_pct,
        'after deployment ' || version || ' of ' || scope || ' '
        || cast(
            cast(cast(tokens_after as decimal(38, 6)) / requests_after as decimal(18, 1)) as {{ dbt.type_string() }}
        )
        || ' tokens per request vs '
        || cast(
            cast(cast(tokens_before as decimal(38, 6)) / requests_before as decimal(18, 1)) as {{ dbt.type_string() }}
        )
        || ' in the {{ var("deployment_window_hours") }} hours before; success rate '
        || coalesce(cast(cast(100 * success_rate_before as decimal(9, 1)) as {{ dbt.type_string() }}) || '%', 'unknown')
        || ' -> '
        || coalesce(cast(cast(100 * success_rate_after as decimal(9, 1)) as {{ dbt.type_string() }}) || '%', 'unknown')
            as detail
    from deployment_changes
    where not coalesce(success_gained, false)

),

unioned as (

    select * from from_prompts
    union all
    select * from from_deployments

)

select
    detected_at,
    day,
    kind,
    workspace,
    feature,
    subject,
    observed_now as observed,
    observed_previous as baseline,
    increase_pct,
    detail
from unioned
