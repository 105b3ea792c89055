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

    select
        day,
        provider,
        scope_key,
        model as usage_model,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens
    from {{ ref('stg_billing__usage') }}
    group by day, provider, scope_key, model

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
            partition by usage_rows.day, usage_rows.provider, usage_rows.scope_key, usage_rows.usage_model
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
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens
    from usage_matched
    where match_rank = 1
    group by day, provider, scope_key, model

),

prices as (

    select * from {{ ref('int_model_prices_deduplicated') }}

),

token_deltas as (

    -- What the provider's usage report counts beyond telemetry, per scope and model (its
    -- service tiers summed), valued at the standard-tier list price in force at the start of
    -- the day (raw.model_prices has a row per tier: only the standard one is read here).
    select
        call_groups.day,
        call_groups.provider,
        call_groups.has_error_calls,
        usage_by_call_model.input_tokens - call_groups.input_tokens as input_delta,
        usage_by_call_model.output_tokens - call_groups.output_tokens as output_delta,
        usage_by_call_model.cache_read_input_tokens - call_groups.cache_read_input_tokens as cache_read_delta,
        usage_by_call_model.cache_creation_input_tokens - call_groups.cache_creation_input_tokens
            as cache_write_delta,
        prices.input_mtok,
        prices.output_mtok,
        coalesce(prices.cache_read_mtok, prices.input_mtok) as cache_read_mtok,
        coalesce(prices.cache_write_mtok, prices.input_mtok) as cache_write_mtok
    from call_groups
    inner join usage_by_call_model
        on usage_by_call_model.day = call_groups.day
            and usage_by_call_model.provider = call_groups.provider
            and usage_by_call_model.scope_key = call_groups.scope_key
            and usage_by_call_model.model = call_groups.model
    inner join prices
        on prices.provider = call_groups.provider
            and prices.model = call_groups.model
            and prices.service_tier = 'standard'
            and prices.effective_from <= cast(call_groups.day as {{ dbt.type_timestamp() }})
            and prices.effective_to > cast(call_groups.day as {{ dbt.type_timestamp() }})

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
