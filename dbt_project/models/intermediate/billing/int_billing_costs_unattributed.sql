{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_window('day') }}"
    )
}}
{#-
  Billed money no call can carry: a bill line (provider, day, scope, and the workspace and
  feature its FOCUS tags name, if any) with no such call that day. It goes to the tagged
  workspace and feature, else the scope's workspace from workspaces.csv (feature
  '(unattributed)'), else to workspace 'unattributed', so every aggregate still sums to the bill.
-#}
{%- set incremental = is_incremental() -%}

with bill_lines as (

    select
        provider,
        day,
        scope_id,
        scope_key,
        coalesce(model, model_family, '(unattributed)') as model,
        workspace_tag,
        feature_tag,
        sum(amount_usd) as amount_usd,
        count(*) as bill_lines
    from {{ ref('int_billing_lines') }}
    -- Usage lines: a credit with no usage to follow is placed by int_billing_credits_allocated.
    where {{ day_in_window('day', incremental) }} and not is_credit
    group by
        provider, day, scope_id, scope_key, coalesce(model, model_family, '(unattributed)'), workspace_tag,
        feature_tag

),

scopes_with_calls as (

    select distinct provider, day, scope_key
    from {{ ref('int_calls_attributed') }}
    where {{ day_in_window('day', incremental) }}

),

tagged_lines as (

    select distinct provider, day, scope_key, workspace_tag, feature_tag
    from bill_lines
    where workspace_tag is not null or feature_tag is not null

),

tagged_lines_with_calls as (

    -- A tagged line needs a call of its workspace and feature, not just of its scope. Only the
    -- calls of scopes that have tagged lines are read.
    select distinct
        tagged.provider,
        tagged.day,
        tagged.scope_key,
        tagged.workspace_tag,
        tagged.feature_tag
    from tagged_lines as tagged
    inner join {{ ref('int_calls_attributed') }} as calls
        on calls.provider = tagged.provider
            and calls.day = tagged.day
            and calls.scope_key = tagged.scope_key
            and (tagged.workspace_tag is null or calls.workspace = tagged.workspace_tag)
            and (tagged.feature_tag is null or calls.feature = tagged.feature_tag)
    where {{ day_in_window('calls.day', incremental) }}

),

workspace_map as (

    select
        provider,
        project_id,
        min(workspace) as workspace
    from {{ ref('stg_config__workspaces') }}
    group by provider, project_id

),

unattributed as (

    select
        bill_lines.day,
        {{ dbt.date_trunc('hour', 'cast(bill_lines.day as ' ~ dbt.type_timestamp() ~ ')') }} as hour,
        bill_lines.provider,
        bill_lines.scope_id,
        bill_lines.scope_key,
        coalesce(bill_lines.workspace_tag, workspace_map.workspace, 'unattributed') as workspace,
        coalesce(bill_lines.feature_tag, '(unattributed)') as feature,
        bill_lines.model,
        case when bill_lines.workspace_tag is not null or workspace_map.workspace is not null then 1 else 0 end
            as mapped_scope,
        bill_lines.bill_lines,
        cast(bill_lines.amount_usd as decimal(18, 6)) as cost_usd
    from bill_lines
    left join scopes_with_calls
        on scopes_with_calls.provider = bill_lines.provider
            and scopes_with_calls.day = bill_lines.day
            and scopes_with_calls.scope_key = bill_lines.scope_key
    left join tagged_lines_with_calls
        on tagged_lines_with_calls.provider = bill_lines.provider
            and tagged_lines_with_calls.day = bill_lines.day
            and tagged_lines_with_calls.scope_key = bill_lines.scope_key
            and coalesce(tagged_lines_with_calls.workspace_tag, '(any)') = coalesce(bill_lines.workspace_tag, '(any)')
            and coalesce(tagged_lines_with_calls.feature_tag, '(any)') = coalesce(bill_lines.feature_tag, '(any)')
    left join workspace_map
        on workspace_map.provider = bill_lines.provider
            and workspace_map.project_id = bill_lines.scope_id
    where
        case
            when bill_lines.workspace_tag is null and bill_lines.feature_tag is null
                then scopes_with_calls.scope_key is null
            else tagged_lines_with_calls.scope_key is null
        end

)

-- Two lines may land on one workspace and feature (a tagged one and a mapped scope's): one row.
select
    day,
    hour,
    provider,
    scope_id,
    scope_key,
    workspace,
    feature,
    model,
    max(mapped_scope) = 1 as is_mapped_scope,
    sum(bill_lines) as bill_lines,
    cast(sum(cost_usd) as decimal(18, 6)) as cost_usd
from unattributed
group by day, hour, provider, scope_id, scope_key, workspace, feature, model
