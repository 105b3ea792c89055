{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by('day'),
        pre_hook="{{ costline_delete_window('day') }}"
    )
}}
{#-
  Every call with its attributed cost_usd (doc: attributed_cost_rule). Where the provider's
  bill for the day is loaded, each bill line is spread over the calls it covers in proportion
  to their estimated cost, on whole micro-dollars, so the pieces add up to the bill exactly.
-#}
{%- set incremental = is_incremental() -%}
{%- set learn_rates = costline_effective_rates_enabled() -%}
{#- The columns of every call, as attribution leaves them (cost_usd is added last). -#}
{%- set passed_columns = [
    'call_id',
    'request_id',
    'attempt',
    'started_at',
    'day',
    'hour',
    'month',
    'provider',
    'model',
    'model_family',
    'operation',
    'service_tier',
    'is_service_tier_reported',
    'tier_price_source',
    'workspace',
    'feature',
    'environment',
    'user_segment',
    'prompt_version',
    'project_id',
    'scope_id',
    'scope_key',
    'status',
    'error_type',
    'is_error',
    'is_retry',
    'input_tokens',
    'output_tokens',
    'cache_read_input_tokens',
    'cache_creation_input_tokens',
    'reasoning_output_tokens',
    'is_priced',
    'estimate_source',
    'estimated_cost_usd',
    'price_data_version',
    'is_billed',
    'has_bill_line'
] %}

{#- A bill group: the calls a share of one bill goes to. FOCUS lines may name a workspace and a
    feature (their tags); '(any)' when they do not, as for every provider API line. -#}
{%- set group_keys = ['provider', 'day', 'scope_key', 'workspace_filter', 'feature_filter', 'target_model'] %}

with calls as (

    select * from {{ ref('int_calls_priced') }}
    where {{ day_in_window('day', incremental) }}

),

workspace_scopes as (

    -- A workspace's provider-side id, for calls that did not send project_id.
    select
        provider,
        workspace,
        min(project_id) as project_id
    from {{ ref('stg_config__workspaces') }}
    group by provider, workspace

),

call_models as (

    select distinct provider, model from calls

),

families as (

    select distinct provider, model_family from {{ ref('focus_models') }}

),

call_families as (

    -- The model family of a cloud call (seed focus_models): the longest family name its model
    -- contains, so 'gpt-4o-mini-2024-07-18' is gpt-4o-mini's, not gpt-4o's.
    select
        call_models.provider,
        call_models.model,
        families.model_family,
        row_number() over (
            partition by call_models.provider, call_models.model
            order by length(families.model_family) desc, families.model_family
        ) as family_rank
    from call_models
    inner join families
        on families.provider = call_models.provider
            and {{ dbt.position('families.model_family', 'lower(call_models.model)') }} > 0

),

scoped as (

    select
        calls.*,
        call_families.model_family,
        coalesce(calls.project_id, workspace_scopes.project_id) as scope_id,
        coalesce(calls.project_id, workspace_scopes.project_id, '(no scope)') as scope_key
    from calls
    left join workspace_scopes
        on workspace_scopes.provider = calls.provider
            and workspace_scopes.workspace = calls.workspace
    left join call_families
        on call_families.provider = calls.provider
            and call_families.model = calls.model
            and call_families.family_rank = 1

),

bill_lines as (

    select
        provider,
        day,
        scope_key,
        model as bill_model,
        model_family as bill_family,
        coalesce(workspace_tag, '(any)') as workspace_filter,
        coalesce(feature_tag, '(any)') as feature_filter,
        sum(amount_usd) as amount_usd
    from {{ ref('int_billing_lines') }}
    -- Usage only: credits are spread apart, as credits_usd (int_billing_credits_allocated), so
    -- a call's cost_usd is its share of the usage bill and never negative (doc: credit_rule).
    where {{ day_in_window('day', incremental) }} and not is_credit
    group by
        provider, day, scope_key, model, model_family, coalesce(workspace_tag, '(any)'),
        coalesce(feature_tag, '(any)')

),

billed_days as (

    -- A provider-day with any loaded bill line, a credit included, is billed: its calls cost
    -- what its usage lines say (0 with none).
    select distinct provider, day
    from {{ ref('int_billing_lines') }}
    where {{ day_in_window('day', incremental) }}

),

scope_models as (

    select distinct
        scoped.provider,
        scoped.day,
        scoped.scope_key,
        scoped.model,
        scoped.model_family,
        scoped.workspace,
        scoped.feature
    from scoped
    inner join billed_days
        on billed_days.provider = scoped.provider
            and billed_days.day = scoped.day

),

line_targets as (

    -- A bill line naming a model goes to the calls of that model: the same name, else the
    -- longest call model it is a dated snapshot of ('gpt-4o-2024-08-06' -> 'gpt-4o', never
    -- 'gpt-4o-mini-2024-07-18' -> 'gpt-4o' when 'gpt-4o-mini' was called). A FOCUS line naming
    -- a model family goes to the calls of that family. A line with no model, or naming a model
    -- no call in its scope used, goes to every call of the scope. Tags narrow each to the
    -- calls of the tagged workspace and feature.
    select
        bill_lines.provider,
        bill_lines.day,
        bill_lines.scope_key,
        bill_lines.workspace_filter,
        bill_lines.feature_filter,
        bill_lines.amount_usd,
        case
            when scope_models.model is null then null
            when bill_lines.bill_family is not null then 'family:' || bill_lines.bill_family
            else scope_models.model
        end as call_model,
        row_number() over (
            partition by
                bill_lines.provider, bill_lines.day, bill_lines.scope_key, bill_lines.bill_model,
                bill_lines.bill_family, bill_lines.workspace_filter, bill_lines.feature_filter
            order by
                case when scope_models.model = bill_lines.bill_model then 0 else 1 end,
                length(scope_models.model) desc,
                scope_models.model
        ) as match_rank
    from bill_lines
    left join scope_models
        on scope_models.provider = bill_lines.provider
            and scope_models.day = bill_lines.day
            and scope_models.scope_key = bill_lines.scope_key
            and (bill_lines.workspace_filter = '(any)' or scope_models.workspace = bill_lines.workspace_filter)
            and (bill_lines.feature_filter = '(any)' or scope_models.feature = bill_lines.feature_filter)
            and (
                scope_models.model_family = bill_lines.bill_family
                or scope_models.model = bill_lines.bill_model
                or substr(bill_lines.bill_model, 1, length(scope_models.model) + 1)
                = scope_models.model || '-'
            )

),

allocation_groups as (

    select
        provider,
        day,
        scope_key,
        workspace_filter,
        feature_filter,
        coalesce(call_model, '(all)') as target_model,
        sum(amount_usd) as amount_usd
    from line_targets
    where match_rank = 1
    group by provider, day, scope_key, workspace_filter, feature_filter, coalesce(call_model, '(all)')

),

memberships as (

        -- Equi-joins, one per kind of target, rather than one join on "model or family or
        -- (all)": an OR join condition would not hash.
    {%- for target_model in ['scoped.model', "'family:' || scoped.model_family", "'(all)'"] %}
        {%- if not loop.first %}

            union all
        {% endif %}

        select
            scoped.call_id,
            scoped.estimated_cost_usd,
            {%- for key in group_keys %}
                allocation_groups.{{ key }},
            {%- endfor %}
            allocation_groups.amount_usd
        from scoped
        inner join allocation_groups
            on allocation_groups.provider = scoped.provider
                and allocation_groups.day = scoped.day
                and allocation_groups.scope_key = scoped.scope_key
                and allocation_groups.target_model = {{ target_model }}
                and (
                    allocation_groups.workspace_filter = '(any)'
                    or allocation_groups.workspace_filter = scoped.workspace
                )
                and (allocation_groups.feature_filter = '(any)' or allocation_groups.feature_filter = scoped.feature)
    {%- endfor %}

),

weighted as (

    select
        memberships.*,
        {{ costline_to_micros('amount_usd') }} as amount_micros,
        -- A negative caller-reported cost must not pull money out of other calls' shares.
        greatest({{ costline_to_micros('estimated_cost_usd') }}, 0) as weight_micros
    from memberships

),

group_weights as (

    select
        provider,
        day,
        scope_key,
        workspace_filter,
        feature_filter,
        target_model,
        sum(weight_micros) as weight_total,
        count(*) as member_calls
    from weighted
    group by {{ group_keys | join(', ') }}

),

shares as (

    -- Proportional to estimated cost; an equal split by call count when the group's
    -- estimated total is zero (unpriced models).
    select
        weighted.call_id,
        weighted.provider,
        weighted.day,
        weighted.scope_key,
        weighted.workspace_filter,
        weighted.feature_filter,
        weighted.target_model,
        weighted.amount_micros,
        case when group_weights.weight_total > 0 then weighted.weight_micros else 1 end as weight,
        case when group_weights.weight_total > 0 then group_weights.weight_total else group_weights.member_calls end
            as weight_total
    from weighted
    inner join group_weights
        on
        {%- for key in group_keys %}
                {% if not loop.first %}and {% endif %}group_weights.{{ key }} = weighted.{{ key }}
        {%- endfor %}

),

{{ costline_largest_remainder('shares', group_keys, 'call_id', 'bill_shares') }},

allocated as (

    select
        call_id,
        sum(allocated_micros) as billed_micros
    from bill_shares
    group by call_id

),

attributed as (

    select
        scoped.call_id,
        scoped.request_id,
        scoped.attempt,
        scoped.started_at,
        scoped.day,
        scoped.hour,
        scoped.month,
        scoped.provider,
        scoped.model,
        scoped.model_family,
        scoped.operation,
        scoped.service_tier,
        scoped.is_service_tier_reported,
        scoped.tier_price_source,
        scoped.workspace,
        scoped.feature,
        scoped.environment,
        scoped.user_segment,
        scoped.prompt_version,
        scoped.project_id,
        scoped.scope_id,
        scoped.scope_key,
        scoped.status,
        scoped.error_type,
        scoped.is_error,
        scoped.is_retry,
        scoped.input_tokens,
        scoped.output_tokens,
        scoped.cache_read_input_tokens,
        scoped.cache_creation_input_tokens,
        scoped.reasoning_output_tokens,
        scoped.is_priced,
        scoped.estimate_source,
        scoped.estimated_cost_usd,
        scoped.price_data_version,
        billed_days.provider is not null as is_billed,
        allocated.call_id is not null as has_bill_line,
        case
            when billed_days.provider is null then scoped.estimated_cost_usd
            -- The bill is the truth: a call in a billed provider-day whose scope has no bill
            -- line costs nothing here; billing_reconciliation shows the gap.
            when allocated.call_id is null then cast(0 as decimal(18, 6))
            else {{ costline_from_micros('allocated.billed_micros') }}
        end as bill_or_list_cost_usd
    from scoped
    left join billed_days
        on billed_days.provider = scoped.provider
            and billed_days.day = scoped.day
    left join allocated
        on allocated.call_id = scoped.call_id

),
{%- if learn_rates %}

rate_evidence as (

    -- What the bill charged for calls that list prices priced: billed calls of a bill line,
    -- estimated at list above zero. This window's, and the stored days of the months a rate
    -- can come from (the window's and the one before) outside it.
    select provider, model, month, day, bill_or_list_cost_usd as cost_usd, estimated_cost_usd
    from attributed
    where is_billed and has_bill_line and estimate_source = 'list_price' and estimated_cost_usd > 0
    {%- if incremental %}
    {%- set evidence_from = costline_previous_month_start(costline_start_day()) %}
    union all
    select provider, model, month, day, cost_usd, estimated_cost_usd
    from {{ this }}
    where is_billed and has_bill_line and estimate_source = 'list_price' and estimated_cost_usd > 0
        and not ({{ day_in_window('day', incremental) }})
        {%- if evidence_from is not none %}
        and day >= {{ costline_date_literal(evidence_from) }}
        {%- endif %}
    {%- endif %}

),

{%- for level, keys in [('model', ['provider', 'model']), ('provider', ['provider'])] %}

{{ level }}_rates as (

    select
        {{ keys | join(', ') }},
        month,
        sum(cost_usd) as billed_usd,
        sum(estimated_cost_usd) as list_usd
    from rate_evidence
    group by {{ keys | join(', ') }}, month
    having count(distinct day) >= {{ var('effective_rate_min_billed_days') }}

),
{%- endfor %}
{%- endif %}

rated as (

    {%- if learn_rates %}
    -- The rate of the call's provider and model in its month, else in the month before, else
    -- the provider's (all its models) in the same order; none: list price.
    select
        attributed.*,
        case
            when attributed.is_billed or attributed.estimate_source <> 'list_price' then null
            when model_month.billed_usd is not null then 'model_month'
            when model_previous.billed_usd is not null then 'model_previous_month'
            when provider_month.billed_usd is not null then 'provider_month'
            when provider_previous.billed_usd is not null then 'provider_previous_month'
        end as effective_rate_basis,
        case
            when model_month.billed_usd is not null then model_month.billed_usd
            when model_previous.billed_usd is not null then model_previous.billed_usd
            when provider_month.billed_usd is not null then provider_month.billed_usd
            else provider_previous.billed_usd
        end as rate_billed_usd,
        case
            when model_month.billed_usd is not null then model_month.list_usd
            when model_previous.billed_usd is not null then model_previous.list_usd
            when provider_month.billed_usd is not null then provider_month.list_usd
            else provider_previous.list_usd
        end as rate_list_usd
    from attributed
    left join model_rates as model_month
        on model_month.provider = attributed.provider
            and model_month.model = attributed.model
            and model_month.month = attributed.month
    left join model_rates as model_previous
        on model_previous.provider = attributed.provider
            and model_previous.model = attributed.model
            and model_previous.month = {{ costline_month_label(dbt.dateadd('month', -1, 'attributed.day')) }}
    left join provider_rates as provider_month
        on provider_month.provider = attributed.provider
            and provider_month.month = attributed.month
    left join provider_rates as provider_previous
        on provider_previous.provider = attributed.provider
            and provider_previous.month = {{ costline_month_label(dbt.dateadd('month', -1, 'attributed.day')) }}
    {%- else %}
        select
            attributed.*,
            cast(null as {{ dbt.type_string() }}) as effective_rate_basis,
            cast(null as decimal(38, 6)) as rate_billed_usd,
            cast(null as decimal(38, 6)) as rate_list_usd
        from attributed
    {%- endif %}

)

select
    {%- for column in passed_columns %}
        {{ column }},
    {%- endfor %}
    case
        when effective_rate_basis is null then bill_or_list_cost_usd
        else {{ costline_money_ratio(
            'estimated_cost_usd * ' ~ costline_to_micros('rate_billed_usd'),
            costline_to_micros('rate_list_usd')) }}
    end as cost_usd,
    effective_rate_basis,
    case
        when effective_rate_basis is not null then {{ costline_fraction('rate_billed_usd', 'rate_list_usd') }}
    end as effective_rate
from rated
