with bills as (

    -- The usage lines are the bill telemetry is compared with and attribution spreads as
    -- cost_usd; credit lines (doc: credit_rule) are their own column, and the two add up to
    -- the net bill.
    select
        day,
        provider,
        sum(case when is_credit then 0 else amount_usd end) as billed_cost_usd,
        sum(case when is_credit then amount_usd else 0 end) as credits_usd,
        count(*) as bill_lines,
        sum(case when is_credit then 1 else 0 end) as credit_lines
    from {{ ref('int_billing_lines') }}
    group by day, provider

),

telemetry as (

    select
        day,
        provider,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(cost_usd) as mart_cost_usd,
        sum(unattributed_cost_usd) as unattributed_cost_usd,
        sum(api_calls) as api_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('daily_spend') }}
    group by day, provider

),

usage as (

    select
        day,
        provider,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(requests) as requests,
        count(*) as usage_rows
    from {{ ref('stg_billing__usage') }}
    group by day, provider

),

joined as (

    select
        bills.day,
        bills.provider,
        bills.billed_cost_usd,
        bills.bill_lines,
        bills.credits_usd,
        bills.credit_lines,
        coalesce(telemetry.estimated_cost_usd, 0) as estimated_cost_usd,
        coalesce(telemetry.mart_cost_usd, 0) as mart_cost_usd,
        coalesce(telemetry.unattributed_cost_usd, 0) as unattributed_cost_usd,
        coalesce(telemetry.api_calls, 0) as api_calls,
        coalesce(telemetry.input_tokens, 0) as telemetry_input_tokens,
        coalesce(telemetry.output_tokens, 0) as telemetry_output_tokens,
        usage.input_tokens as billed_input_tokens,
        usage.output_tokens as billed_output_tokens,
        usage.requests as billed_requests
    from bills
    left join telemetry
        on telemetry.day = bills.day
            and telemetry.provider = bills.provider
    left join usage
        on usage.day = bills.day
            and usage.provider = bills.provider

)

select
    cast(day as date) as day,
    cast(provider as {{ dbt.type_string() }}) as provider,
    cast(billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(estimated_cost_usd as decimal(18, 6)) as estimated_cost_usd,
    cast(billed_cost_usd - estimated_cost_usd as decimal(18, 6)) as difference_usd,
    {{ costline_fraction('billed_cost_usd - estimated_cost_usd', 'estimated_cost_usd') }} as difference_pct,
    cast(unattributed_cost_usd as decimal(18, 6)) as unattributed_cost_usd,
    cast(mart_cost_usd - unattributed_cost_usd as decimal(18, 6)) as attributed_cost_usd,
    -- What the marts carry for this provider-day; equals billed_cost_usd when attribution is whole.
    cast(mart_cost_usd as decimal(18, 6)) as mart_cost_usd,
    cast(bill_lines as bigint) as bill_lines,
    cast(api_calls as bigint) as api_calls,
    cast(telemetry_input_tokens as bigint) as telemetry_input_tokens,
    cast(telemetry_output_tokens as bigint) as telemetry_output_tokens,
    cast(billed_input_tokens as bigint) as billed_input_tokens,
    cast(billed_output_tokens as bigint) as billed_output_tokens,
    cast(billed_requests as bigint) as billed_requests,
    -- Share of the provider's reported tokens that telemetry saw (null without usage pages).
    {{ costline_fraction(
        'telemetry_input_tokens + telemetry_output_tokens',
        'billed_input_tokens + billed_output_tokens'
    ) }} as token_coverage_pct,
    cast(
        estimated_cost_usd > 0
        and abs(billed_cost_usd - estimated_cost_usd)
        <= estimated_cost_usd * cast({{ var('estimate_vs_bill_warn_pct') }} as decimal(9, 6))
        as boolean
    ) as estimate_within_tolerance,
    -- Telemetry that sees too little of the provider's traffic attributes the bill on thin
    -- evidence (no usage pages: nothing to compare, so not a warning).
    cast(
        billed_input_tokens + billed_output_tokens is null
        or billed_input_tokens + billed_output_tokens = 0
        or (telemetry_input_tokens + telemetry_output_tokens)
        >= (billed_input_tokens + billed_output_tokens) * {{ var('telemetry_coverage_warn_pct') }}
        as boolean
    ) as telemetry_coverage_ok,
    cast(credits_usd as decimal(18, 6)) as credits_usd,
    cast(billed_cost_usd + credits_usd as decimal(18, 6)) as net_billed_cost_usd,
    cast(credit_lines as bigint) as credit_lines
from joined
