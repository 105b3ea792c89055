{#-
  Inputs the models had to ignore or could not use as given, one row per problem with a
  reason an engineer can act on. Ingestion quarantines records that break the file contract
  (stg_telemetry__quarantined_records); these are the ones that only the business rules can
  see. Outcome and call checks cover the run window; reference files are checked whole.
  The data test on this model warns (never blocks) with the number of problems.
-#}
{%- set has_window = costline_has_window() %}

with outcomes as (

    select * from {{ ref('stg_telemetry__outcomes') }}
    {%- if has_window %}
    where {{ day_in_window('source_folder', true) }}
    {%- endif %}

),

bad_outcomes as (

    select
        'outcomes' as input,
        case
            when kind not in ('thumbs', 'resolution', 'eval') then 'unknown_outcome_kind'
            else 'invalid_outcome_value'
        end as issue,
        kind || ':' || coalesce(value, '') as record_key,
        min(source_folder) as day,
        count(*) as occurrences,
        case
            when kind not in ('thumbs', 'resolution', 'eval')
                then 'outcome kind ''' || kind || ''' is not thumbs, resolution or eval; ignored (e.g. '
                    || min(source_file) || ' line ' || cast(min(source_line) as {{ dbt.type_string() }}) || ')'
            when kind = 'eval'
                then 'eval value ''' || coalesce(value, '') || ''' is not a number from 0 to 1; ignored (e.g. '
                    || min(source_file) || ' line ' || cast(min(source_line) as {{ dbt.type_string() }}) || ')'
            else kind || ' value ''' || coalesce(value, '') || ''' is not '
                || case when kind = 'thumbs' then 'up or down' else 'resolved or unresolved' end
                || '; ignored (e.g. '
                || min(source_file)
                || ' line '
                || cast(min(source_line) as {{ dbt.type_string() }})
                || ')'
        end as reason
    from outcomes
    where not (
            (kind = 'resolution' and value in ('resolved', 'unresolved'))
            or (kind = 'thumbs' and value in ('up', 'down'))
            or (kind = 'eval' and eval_score between 0 and 1)
        )
    group by kind, value

),

unpriced_models as (

    select
        'telemetry' as input,
        'no_list_price' as issue,
        provider || '/' || model as record_key,
        min(day) as day,
        count(*) as occurrences,
        'no list price for ' || provider || ' model ''' || model || ''' at the calls'' start time and no cost_usd '
        || 'from the caller: ' || cast(count(*) as {{ dbt.type_string() }})
        || ' calls estimated at $0 (add the model to the price data or send cost_usd)' as reason
    from {{ ref('int_calls_priced') }}
    where not is_priced
    {%- if has_window %}
        and {{ day_in_window('day', true) }}
    {%- endif %}
    group by provider, model

),

known_names as (

    select distinct workspace as name, 'workspace' as kind from {{ ref('int_spend_hourly') }}
    union
    select distinct feature as name, 'feature' as kind from {{ ref('int_spend_hourly') }}

),

unmatched_deployments as (

    select
        'deployments' as input,
        'deployment_scope_unmatched' as issue,
        deployments.scope || '@' || cast(deployments.deployed_at as {{ dbt.type_string() }}) as record_key,
        cast(deployments.deployed_at as date) as day,
        count(*) as occurrences,
        'deployment scope ''' || deployments.scope || ''' (line '
        || cast(min(deployments.source_line) as {{ dbt.type_string() }})
        || ') matches no workspace or feature with spend; its impact is not measured' as reason
    from {{ ref('stg_config__deployments') }} as deployments
    left join known_names
        on known_names.name = deployments.scope
    where deployments.scope <> '*'
        and known_names.name is null
    group by deployments.scope, deployments.deployed_at

),

bad_budgets as (

    select
        'budgets' as input,
        case
            when not (
                    budgets.budget_month = '*'
                    or (length(budgets.budget_month) = 7 and substr(budgets.budget_month, 5, 1) = '-')
                )
                then 'budget_month_invalid'
            when budgets.monthly_budget_usd < 0 then 'budget_negative'
            else 'budget_workspace_unknown'
        end as issue,
        budgets.workspace || ':' || budgets.budget_month as record_key,
        cast(null as date) as day,
        1 as occurrences,
        case
            when not (
                    budgets.budget_month = '*'
                    or (length(budgets.budget_month) = 7 and substr(budgets.budget_month, 5, 1) = '-')
                )
                then 'budgets.csv line ' || cast(budgets.source_line as {{ dbt.type_string() }}) || ': month '''
                    || budgets.budget_month || ''' is neither YYYY-MM nor *; the row never applies'
            when budgets.monthly_budget_usd < 0
                then 'budgets.csv line ' || cast(budgets.source_line as {{ dbt.type_string() }})
                    || ': negative budget for ' || budgets.workspace
            else 'budgets.csv line ' || cast(budgets.source_line as {{ dbt.type_string() }}) || ': workspace '''
                || budgets.workspace || ''' has no spend in the warehouse (a typo?)'
        end as reason
    from {{ ref('stg_config__budgets') }} as budgets
    left join known_names
        on known_names.name = budgets.workspace
            and known_names.kind = 'workspace'
    where not (
            budgets.budget_month = '*'
            or (length(budgets.budget_month) = 7 and substr(budgets.budget_month, 5, 1) = '-')
        )
        or budgets.monthly_budget_usd < 0
        or known_names.name is null

),

ambiguous_workspace_map as (

    select
        'workspaces' as input,
        'project_mapped_twice' as issue,
        provider || '/' || project_id as record_key,
        cast(null as date) as day,
        count(*) as occurrences,
        'workspaces.csv maps ' || provider || ' project ''' || project_id || ''' to '
        || cast(count(distinct workspace) as {{ dbt.type_string() }})
        || ' workspaces; unattributed bills go to the first by name (' || min(workspace) || ')' as reason
    from {{ ref('stg_config__workspaces') }}
    group by provider, project_id
    having count(distinct workspace) > 1

),

unioned as (

    select * from bad_outcomes
    union all
    select * from unpriced_models
    union all
    select * from unmatched_deployments
    union all
    select * from bad_budgets
    union all
    select * from ambiguous_workspace_map

)

select
    cast(input as {{ dbt.type_string() }}) as input,
    cast(issue as {{ dbt.type_string() }}) as issue,
    cast(record_key as {{ dbt.type_string() }}) as record_key,
    cast(day as date) as day,
    cast(occurrences as bigint) as occurrences,
    cast(reason as {{ dbt.type_string() }}) as reason
from unioned
