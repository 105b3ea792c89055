{{
    config(
        materialized='incremental',
        pre_hook="{{ costline_delete_window('day') }}"
    )
}}
{#-
  Billed money no call can carry: a (provider, day, scope) on the bill with no call in that
  scope that day. It goes to the scope's workspace from workspaces.csv (feature
  '(unattributed)'), or to workspace 'unattributed' when the scope is not mapped, so every
  aggregate still sums to the bill.
-#}
{%- set incremental = is_incremental() -%}

with bill_lines as (

    select
        provider,
        day,
        scope_id,
        scope_key,
        coalesce(model, '(unattributed)') as model,
        sum(amount_usd) as amount_usd,
        count(*) as bill_lines
    from {{ ref('stg_billing__costs') }}
    where {{ day_in_window('day', incremental) }}
    group by provider, day, scope_id, scope_key, coalesce(model, '(unattributed)')

),

scopes_with_calls as (

    select distinct provider, day, scope_key
    from {{ ref('int_calls_attributed') }}
    where {{ day_in_window('day', incremental) }}

),

workspace_map as (

    select
        provider,
        project_id,
        min(workspace) as workspace
    from {{ ref('stg_config__workspaces') }}
    group by provider, project_id

)

select
    bill_lines.day,
    {{ dbt.date_trunc('hour', 'cast(bill_lines.day as ' ~ dbt.type_timestamp() ~ ')') }} as hour,
    bill_lines.provider,
    bill_lines.scope_id,
    bill_lines.scope_key,
    coalesce(workspace_map.workspace, 'unattributed') as workspace,
    '(unattributed)' as feature,
    bill_lines.model,
    workspace_map.workspace is not null as is_mapped_scope,
    bill_lines.bill_lines,
    cast(bill_lines.amount_usd as decimal(18, 6)) as cost_usd
from bill_lines
left join scopes_with_calls
    on scopes_with_calls.provider = bill_lines.provider
        and scopes_with_calls.day = bill_lines.day
        and scopes_with_calls.scope_key = bill_lines.scope_key
left join workspace_map
    on workspace_map.provider = bill_lines.provider
        and workspace_map.project_id = bill_lines.scope_id
where scopes_with_calls.scope_key is null
