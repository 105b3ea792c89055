{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_window('day') }}"
    )
}}
{#-
  Where each credit line of the bill goes (doc: credit_rule). A credit (int_billing_lines.
  is_credit: seed billing_credit_rules) is money the provider gives back, not usage: it is
  spread over the usage it reduces, pro rata to the attributed usage cost (cost_usd) of its
  provider, day and scope (and the workspace and feature its FOCUS tags name), on whole
  micro-dollars by the one exact allocator (macros/exact_allocation.sql), so the credits of a
  provider-day sum to its credit lines exactly. An org-level credit (a line with no scope)
  belongs to the whole organisation: it follows the provider-day's usage in every scope. The
  usage followed is the calls' cost and the billed money no call carries
  (int_billing_costs_unattributed). A credit with no usage to follow that day goes where
  unattributed usage goes: the tagged workspace and feature, else the scope's workspace in
  workspaces.csv (feature '(unattributed)'), else workspace 'unattributed'. A credit larger
  than the day's usage makes net cost negative; cost_usd (usage) stays what the usage bill
  says, so publication is never blocked by a legitimate credit.
-#}
{%- set incremental = is_incremental() -%}
{%- set group_keys = ['provider', 'day', 'target_scope', 'workspace_filter', 'feature_filter'] %}

with credit_lines as (

    select
        provider,
        day,
        scope_id,
        scope_key,
        -- An org-level line (no scope) follows every scope's usage of the provider-day.
        case when scope_key = '(no scope)' then '(all)' else scope_key end as target_scope,
        workspace_tag,
        feature_tag,
        coalesce(workspace_tag, '(any)') as workspace_filter,
        coalesce(feature_tag, '(any)') as feature_filter,
        sum(amount_usd) as amount_usd
    from {{ ref('int_billing_lines') }}
    where {{ day_in_window('day', incremental) }} and is_credit
    group by provider, day, scope_id, scope_key, workspace_tag, feature_tag

),

credit_days as (

    select distinct provider, day from credit_lines

),

usage_members as (

    -- The usage a credit can follow, on the provider-days that have credits only.
    select
        calls.call_id as member_id,
        calls.provider,
        calls.day,
        calls.hour,
        calls.scope_key,
        calls.workspace,
        calls.feature,
        calls.model,
        calls.prompt_version,
        calls.cost_usd
    from {{ ref('int_calls_attributed') }} as calls
    inner join credit_days
        on credit_days.provider = calls.provider
            and credit_days.day = calls.day
    where {{ day_in_window('calls.day', incremental) }} and calls.cost_usd > 0

    union all

    select
        '(unattributed)|' || unattributed.scope_key || '|' || unattributed.workspace || '|'
        || unattributed.feature || '|' || unattributed.model as member_id,
        unattributed.provider,
        unattributed.day,
        unattributed.hour,
        unattributed.scope_key,
        unattributed.workspace,
        unattributed.feature,
        unattributed.model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        unattributed.cost_usd
    from {{ ref('int_billing_costs_unattributed') }} as unattributed
    inner join credit_days
        on credit_days.provider = unattributed.provider
            and credit_days.day = unattributed.day
    where {{ day_in_window('unattributed.day', incremental) }} and unattributed.cost_usd > 0

),

credit_groups as (

    select
        provider,
        day,
        target_scope,
        workspace_filter,
        feature_filter,
        sum(amount_usd) as amount_usd
    from credit_lines
    group by provider, day, target_scope, workspace_filter, feature_filter

),

memberships as (

        -- Equi-joins, one per kind of target (a scope, or '(all)' scopes), rather than an OR join.
    {%- for scope_match in ['usage_members.scope_key', "'(all)'"] %}
        {%- if not loop.first %}

            union all
        {% endif %}

        select
            usage_members.*,
            credit_groups.target_scope,
            credit_groups.workspace_filter,
            credit_groups.feature_filter,
            {{ costline_to_micros('credit_groups.amount_usd') }} as amount_micros,
            {{ costline_to_micros('usage_members.cost_usd') }} as weight
        from usage_members
        inner join credit_groups
            on credit_groups.provider = usage_members.provider
                and credit_groups.day = usage_members.day
                and credit_groups.target_scope = {{ scope_match }}
                and (
                    credit_groups.workspace_filter = '(any)'
                    or credit_groups.workspace_filter = usage_members.workspace
                )
                and (credit_groups.feature_filter = '(any)' or credit_groups.feature_filter = usage_members.feature)
    {%- endfor %}

),

group_weights as (

    select
        provider,
        day,
        target_scope,
        workspace_filter,
        feature_filter,
        sum(weight) as weight_total
    from memberships
    group by {{ group_keys | join(', ') }}

),

shares as (

    select
        memberships.member_id,
        memberships.provider,
        memberships.day,
        memberships.target_scope,
        memberships.workspace_filter,
        memberships.feature_filter,
        memberships.amount_micros,
        memberships.weight,
        group_weights.weight_total
    from memberships
    inner join group_weights
        on
        {%- for key in group_keys %}
                {% if not loop.first %}and {% endif %}group_weights.{{ key }} = memberships.{{ key }}
        {%- endfor %}

),

{{ costline_largest_remainder('shares', group_keys, 'member_id', 'credit_shares') }},

followed as (

    select
        usage_members.day,
        usage_members.hour,
        usage_members.provider,
        usage_members.scope_key,
        usage_members.workspace,
        usage_members.feature,
        usage_members.model,
        usage_members.prompt_version,
        true as follows_usage,
        {{ costline_from_micros('credit_shares.allocated_micros') }} as credits_usd
    from credit_shares
    inner join usage_members
        on usage_members.member_id = credit_shares.member_id
            and usage_members.provider = credit_shares.provider
            and usage_members.day = credit_shares.day

),

workspace_map as (

    select
        provider,
        project_id,
        min(workspace) as workspace
    from {{ ref('stg_config__workspaces') }}
    group by provider, project_id

),

unfollowed as (

    -- No usage of its scope (and tags) that day: placed as unattributed usage would be.
    select
        credit_lines.day,
        {{ dbt.date_trunc('hour', 'cast(credit_lines.day as ' ~ dbt.type_timestamp() ~ ')') }} as hour,
        credit_lines.provider,
        credit_lines.scope_key,
        coalesce(credit_lines.workspace_tag, workspace_map.workspace, 'unattributed') as workspace,
        coalesce(credit_lines.feature_tag, '(unattributed)') as feature,
        '(unattributed)' as model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        false as follows_usage,
        cast(credit_lines.amount_usd as decimal(18, 6)) as credits_usd
    from credit_lines
    left join group_weights
        on group_weights.provider = credit_lines.provider
            and group_weights.day = credit_lines.day
            and group_weights.target_scope = credit_lines.target_scope
            and group_weights.workspace_filter = credit_lines.workspace_filter
            and group_weights.feature_filter = credit_lines.feature_filter
    left join workspace_map
        on workspace_map.provider = credit_lines.provider
            and workspace_map.project_id = credit_lines.scope_id
    where group_weights.provider is null

),

placed as (

    select * from followed
    union all
    select * from unfollowed

)

select
    day,
    cast(hour as {{ dbt.type_timestamp() }}) as hour,
    provider,
    scope_key,
    workspace,
    feature,
    model,
    prompt_version,
    follows_usage,
    cast(sum(credits_usd) as decimal(18, 6)) as credits_usd
from placed
group by day, hour, provider, scope_key, workspace, feature, model, prompt_version, follows_usage
