{#-
  Why the bill differs from the estimate (doc: gap_rule), per day and provider with a loaded
  bill: billed - estimated split into causes, each measured from the data, and the residual
  no cause explains. Every amount is the cause's contribution to billed - estimated (positive:
  the bill is that much higher for that reason), so the causes plus the residual equal the
  gap exactly, to the micro-dollar (the residual is what is left, by construction).
-#}
{#- Per-million prices to dollars by an exact decimal product (a decimal division would go
    through a float on DuckDB). -#}
{%- set per_token = 'cast(0.000001 as decimal(18, 6))' %}

with lines as (

    select
        day,
        provider,
        sum(amount_usd) as billed_cost_usd,
        sum(case when is_credit then amount_usd else 0 end) as credits_usd
    from {{ ref('int_billing_lines') }}
    group by day, provider

),

calls as (

    select
        calls.day,
        calls.provider,
        calls.scope_key,
        calls.model,
        -- The tier that served the call, in costline's names ('standard' when not reported).
        calls.service_tier,
        calls.estimated_cost_usd,
        calls.cost_usd,
        calls.is_priced,
        calls.is_error,
        calls.input_tokens,
        calls.output_tokens,
        calls.cache_read_input_tokens,
        calls.cache_creation_input_tokens
    from {{ ref('int_calls_attributed') }} as calls
    inner join lines
        on lines.day = calls.day
            and lines.provider = calls.provider

),

call_totals as (

    -- Calls of unpriced models are estimated at 0: whatever the bill gives them is gap.
    select
        day,
        provider,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(case when is_priced then 0 else cost_usd end) as unpriced_calls_usd
    from calls
    group by day, provider

),

unmonitored as (

    -- Billed scopes with no call that day: all of it is gap (no estimate exists).
    select day, provider, sum(cost_usd) as unmonitored_scopes_usd
    from {{ ref('int_billing_costs_unattributed') }}
    group by day, provider

),

call_tiers as (

    select
        day,
        provider,
        scope_key,
        model,
        service_tier,
        max(case when is_error then 1 else 0 end) as has_error_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens
    from calls
    group by day, provider, scope_key, model, service_tier

),

call_groups as (

    select
        day,
        provider,
        scope_key,
        model,
        max(case when is_error then 1 else 0 end) as has_error_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens
    from calls
    group by day, provider, scope_key, model

),

usage_rows as (

    -- The usage report's tier in costline's names (seed service_tier_names, as for calls);
    -- null where the page does not split by tier (an older fetch).
    select
        usage_lines.day,
        usage_lines.provider,
        usage_lines.scope_key,
        usage_lines.model as usage_model,
        coalesce(tier_names.service_tier, usage_lines.service_tier) as service_tier,
        sum(usage_lines.input_tokens) as input_tokens,
        sum(usage_lines.output_tokens) as output_tokens,
        sum(usage_lines.cache_read_input_tokens) as cache_read_input_tokens,
        sum(usage_lines.cache_creation_input_tokens) as cache_creation_input_tokens
    from {{ ref('stg_billing__usage') }} as usage_lines
    left join {{ ref('service_tier_names') }} as tier_names
        on tier_names.provider = usage_lines.provider
            and tier_names.reported_tier = usage_lines.service_tier
    group by
        usage_lines.day, usage_lines.provider, usage_lines.scope_key, usage_lines.model,
        coalesce(tier_names.service_tier, usage_lines.service_tier)

),

usage_matched as (

    -- The usage report names the billed model ('gpt-4o-2024-08-06'); it is the call model it
    -- is a dated snapshot of (the rule billing_reconciliation_by_model reads bill models by).
    -- Usage of a scope or model with no call that day is not compared here (it is billed
    -- money telemetry did not see: unmonitored scopes, or the residual).
    select
        usage_rows.*,
        call_groups.model,
        row_number() over (
            partition by
                usage_rows.day, usage_rows.provider, usage_rows.scope_key, usage_rows.usage_model,
                usage_rows.service_tier
            order by
                case when call_groups.model = usage_rows.usage_model then 0 else 1 end,
                length(call_groups.model) desc
        ) as match_rank
    from usage_rows
    inner join call_groups
        on call_groups.day = usage_rows.day
            and call_groups.provider = usage_rows.provider
            and call_groups.scope_key = usage_rows.scope_key
            and (
                call_groups.model = usage_rows.usage_model
                or substr(usage_rows.usage_model, 1, length(call_groups.model) + 1) = call_groups.model || '-'
            )

),

usage_by_call_model as (

    select
        day,
        provider,
        scope_key,
        model,
        service_tier,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens
    from usage_matched
    where match_rank = 1
    group by day, provider, scope_key, model, service_tier

),

tier_split as (

    -- Where the usage report splits a scope and model by tier, usage and calls are compared
    -- per tier (a Batch API token is valued at the batch rate); where any of its rows does
    -- not, as one '(all)' group at the standard price.
    select
        day,
        provider,
        scope_key,
        model,
        min(case when service_tier is null then 0 else 1 end) = 1 as is_split
    from usage_by_call_model
    group by day, provider, scope_key, model

),

usage_compared as (

    select
        usage_by_call_model.day,
        usage_by_call_model.provider,
        usage_by_call_model.scope_key,
        usage_by_call_model.model,
        case when tier_split.is_split then usage_by_call_model.service_tier else '(all)' end as service_tier,
        sum(usage_by_call_model.input_tokens) as input_tokens,
        sum(usage_by_call_model.output_tokens) as output_tokens,
        sum(usage_by_call_model.cache_read_input_tokens) as cache_read_input_tokens,
        sum(usage_by_call_model.cache_creation_input_tokens) as cache_creation_input_tokens
    from usage_by_call_model
    inner join tier_split
        on tier_split.day = usage_by_call_model.day
            and tier_split.provider = usage_by_call_model.provider
            and tier_split.scope_key = usage_by_call_model.scope_key
            and tier_split.model = usage_by_call_model.model
    group by
        usage_by_call_model.day, usage_by_call_model.provider, usage_by_call_model.scope_key,
        usage_by_call_model.model,
        case when tier_split.is_split then usage_by_call_model.service_tier else '(all)' end

),

calls_compared as (

    -- The calls of a split scope and model per tier (a tier with calls and no usage too);
    -- of an unsplit one, together.
    select
        call_tiers.day,
        call_tiers.provider,
        call_tiers.scope_key,
        call_tiers.model,
        case when tier_split.is_split then call_tiers.service_tier else '(all)' end as service_tier,
        max(call_tiers.has_error_calls) as has_error_calls,
        sum(call_tiers.input_tokens) as input_tokens,
        sum(call_tiers.output_tokens) as output_tokens,
        sum(call_tiers.cache_read_input_tokens) as cache_read_input_tokens,
        sum(call_tiers.cache_creation_input_tokens) as cache_creation_input_tokens
    from call_tiers
    inner join tier_split
        on tier_split.day = call_tiers.day
            and tier_split.provider = call_tiers.provider
            and tier_split.scope_key = call_tiers.scope_key
            and tier_split.model = call_tiers.model
    group by
        call_tiers.day, call_tiers.provider, call_tiers.scope_key, call_tiers.model,
        case when tier_split.is_split then call_tiers.service_tier else '(all)' end

),

compared as (

    -- Every tier either side has (0 tokens where one side has none); error calls of any tier
    -- of the scope and model count, as before the split.
    select
        coalesce(calls_compared.day, usage_compared.day) as day,
        coalesce(calls_compared.provider, usage_compared.provider) as provider,
        coalesce(calls_compared.scope_key, usage_compared.scope_key) as scope_key,
        coalesce(calls_compared.model, usage_compared.model) as model,
        coalesce(calls_compared.service_tier, usage_compared.service_tier) as service_tier,
        coalesce(usage_compared.input_tokens, 0) - coalesce(calls_compared.input_tokens, 0) as input_delta,
        coalesce(usage_compared.output_tokens, 0) - coalesce(calls_compared.output_tokens, 0) as output_delta,
        coalesce(usage_compared.cache_read_input_tokens, 0) - coalesce(calls_compared.cache_read_input_tokens, 0)
            as cache_read_delta,
        coalesce(usage_compared.cache_creation_input_tokens, 0)
        - coalesce(calls_compared.cache_creation_input_tokens, 0) as cache_write_delta
    from calls_compared
    full outer join usage_compared
        on usage_compared.day = calls_compared.day
            and usage_compared.provider = calls_compared.provider
            and usage_compared.scope_key = calls_compared.scope_key
            and usage_compared.model = calls_compared.model
            and usage_compared.service_tier = calls_compared.service_tier

),

prices as (

    select * from {{ ref('int_model_prices_deduplicated') }}

),

multipliers as (

    select * from {{ ref('service_tier_multipliers') }}

),

token_deltas as (

    -- What the provider's usage report counts beyond telemetry, per scope, model and tier,
    -- valued at the list price in force at the start of the day of the tier: its own rate
    -- where the price data lists one, else the standard price times the tier's multiplier (as
    -- int_calls_priced prices the calls); '(all)' and 'standard' at the standard price.
    select
        compared.day,
        compared.provider,
        call_groups.has_error_calls,
        compared.input_delta,
        compared.output_delta,
        compared.cache_read_delta,
        compared.cache_write_delta,
        case
            when tier.provider is not null then tier.input_mtok
            else standard.input_mtok * coalesce(multipliers.multiplier, 1)
        end as input_mtok,
        case
            when tier.provider is not null then tier.output_mtok
            else standard.output_mtok * coalesce(multipliers.multiplier, 1)
        end as output_mtok,
        case
            when tier.provider is not null then coalesce(tier.cache_read_mtok, tier.input_mtok)
            else coalesce(standard.cache_read_mtok, standard.input_mtok) * coalesce(multipliers.multiplier, 1)
        end as cache_read_mtok,
        case
            when tier.provider is not null then coalesce(tier.cache_write_mtok, tier.input_mtok)
            else coalesce(standard.cache_write_mtok, standard.input_mtok) * coalesce(multipliers.multiplier, 1)
        end as cache_write_mtok
    from compared
    inner join call_groups
        on call_groups.day = compared.day
            and call_groups.provider = compared.provider
            and call_groups.scope_key = compared.scope_key
            and call_groups.model = compared.model
    inner join prices as standard
        on standard.provider = compared.provider
            and standard.model = compared.model
            and standard.service_tier = 'standard'
            and standard.effective_from <= cast(compared.day as {{ dbt.type_timestamp() }})
            and standard.effective_to > cast(compared.day as {{ dbt.type_timestamp() }})
    left join prices as tier
        on tier.provider = compared.provider
            and tier.model = compared.model
            and tier.service_tier = compared.service_tier
            and tier.service_tier <> 'standard'
            and tier.effective_from <= cast(compared.day as {{ dbt.type_timestamp() }})
            and tier.effective_to > cast(compared.day as {{ dbt.type_timestamp() }})
    left join multipliers
        on multipliers.provider = compared.provider
            and multipliers.service_tier = compared.service_tier

),

token_causes as (

    select
        day,
        provider,
        -- Cache tokens the provider billed as cache reads / writes that telemetry counted as
        -- plain input (a tool that drops the cache breakdown): the estimate priced them at
        -- the input price, the bill at the cache price.
        sum(
            cache_read_delta * (cache_read_mtok - input_mtok) * {{ per_token }}
            + cache_write_delta * (cache_write_mtok - input_mtok) * {{ per_token }}
        ) as cache_tokens_unreported_usd,
        -- Tokens the provider billed that telemetry did not report, where that scope and
        -- model had error calls: failed calls (timeouts, dropped streams) that reported no
        -- tokens but were served and charged. Elsewhere the same shortfall stays residual.
        sum(
            case
                when has_error_calls = 1
                    then input_delta * input_mtok * {{ per_token }} + output_delta * output_mtok * {{ per_token }}
                else 0
            end
        ) as error_calls_billed_usd
    from token_deltas
    group by day, provider

),

joined as (

    select
        lines.day,
        lines.provider,
        lines.billed_cost_usd,
        coalesce(call_totals.estimated_cost_usd, 0) as estimated_cost_usd,
        coalesce(unmonitored.unmonitored_scopes_usd, 0) as unmonitored_scopes_usd,
        coalesce(call_totals.unpriced_calls_usd, 0) as unpriced_calls_usd,
        cast(round(coalesce(token_causes.error_calls_billed_usd, 0), 6) as decimal(18, 6)) as error_calls_billed_usd,
        lines.credits_usd as credits_adjustments_usd,
        cast(round(coalesce(token_causes.cache_tokens_unreported_usd, 0), 6) as decimal(18, 6))
            as cache_tokens_unreported_usd,
        -- Not measured yet: the inputs exist (int_calls_attributed.is_service_tier_reported,
        -- stg_billing__usage.service_tier), but valuing tokens billed at a tier telemetry did
        -- not report needs the usage report matched to the calls per tier, and the cache and
        -- error causes above then split per tier too; until then that share stays residual.
        cast(0 as decimal(18, 6)) as tier_unreported_usd
    from lines
    left join call_totals
        on call_totals.day = lines.day
            and call_totals.provider = lines.provider
    left join unmonitored
        on unmonitored.day = lines.day
            and unmonitored.provider = lines.provider
    left join token_causes
        on token_causes.day = lines.day
            and token_causes.provider = lines.provider

),

explained as (

    select
        joined.*,
        billed_cost_usd - estimated_cost_usd as gap_usd,
        unmonitored_scopes_usd + unpriced_calls_usd + error_calls_billed_usd + credits_adjustments_usd
        + cache_tokens_unreported_usd + tier_unreported_usd as explained_usd
    from joined

)

select
    cast(day as date) as day,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(gap_usd as decimal(18, 6)) as gap_usd,
    cast(unmonitored_scopes_usd as decimal(18, 6)) as unmonitored_scopes_usd,
    cast(unpriced_calls_usd as decimal(18, 6)) as unpriced_calls_usd,
    cast(error_calls_billed_usd as decimal(18, 6)) as error_calls_billed_usd,
    cast(credits_adjustments_usd as decimal(18, 6)) as credits_adjustments_usd,
    cast(cache_tokens_unreported_usd as decimal(18, 6)) as cache_tokens_unreported_usd,
    cast(tier_unreported_usd as decimal(18, 6)) as tier_unreported_usd,
    cast(explained_usd as decimal(18, 6)) as explained_usd,
    cast(gap_usd - explained_usd as decimal(18, 6)) as residual_usd,
    {{ costline_fraction('gap_usd - explained_usd', 'billed_cost_usd') }} as residual_pct
from explained
