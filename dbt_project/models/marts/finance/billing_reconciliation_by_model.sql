{#-
  The bill vs the estimate per day, provider and model, where the bill names a model (OpenAI
  cost line items, Anthropic cost_report descriptions). A bill model is read as the call model
  it is a dated snapshot of ('gpt-4o-2024-08-06' -> 'gpt-4o', never 'gpt-4o-mini-2024-07-18'
  -> 'gpt-4o' when 'gpt-4o-mini' was called): the same rule int_calls_attributed allocates by.
  Lines naming a model no call used keep the bill's name, with no estimate beside them.
-#}

with bill_lines as (

    select day, provider, model as bill_model, sum(amount_usd) as billed_cost_usd
    from {{ ref('int_billing_lines') }}
    -- Usage lines, as billing_reconciliation.billed_cost_usd (credits are no model's price).
    where model is not null and not is_credit
    group by day, provider, model

),

call_models as (

    select
        day,
        provider,
        model,
        count(*) as api_calls,
        sum(estimated_cost_usd) as estimated_cost_usd
    from {{ ref('int_calls_attributed') }}
    where day in (select distinct bill_lines.day from bill_lines)
    group by day, provider, model

),

matched as (

    select
        bill_lines.day,
        bill_lines.provider,
        bill_lines.billed_cost_usd,
        coalesce(call_models.model, bill_lines.bill_model) as model,
        row_number() over (
            partition by bill_lines.day, bill_lines.provider, bill_lines.bill_model
            order by
                case when call_models.model = bill_lines.bill_model then 0 else 1 end,
                length(call_models.model) desc
        ) as match_rank
    from bill_lines
    left join call_models
        on call_models.day = bill_lines.day
            and call_models.provider = bill_lines.provider
            and (
                call_models.model = bill_lines.bill_model
                or substr(bill_lines.bill_model, 1, length(call_models.model) + 1) = call_models.model || '-'
            )

),

billed as (

    select day, provider, model, sum(billed_cost_usd) as billed_cost_usd
    from matched
    where match_rank = 1
    group by day, provider, model

)

select
    billed.day,
    billed.provider,
    billed.model,
    cast(billed.billed_cost_usd as decimal(18, 6)) as billed_cost_usd,
    cast(coalesce(call_models.estimated_cost_usd, 0) as decimal(18, 6)) as estimated_cost_usd,
    cast(billed.billed_cost_usd - coalesce(call_models.estimated_cost_usd, 0) as decimal(18, 6)) as difference_usd,
    {{ costline_fraction('billed.billed_cost_usd - call_models.estimated_cost_usd', 'call_models.estimated_cost_usd') }}
        as difference_pct,
    cast(coalesce(call_models.api_calls, 0) as bigint) as api_calls
from billed
left join call_models
    on call_models.day = billed.day
        and call_models.provider = billed.provider
        and call_models.model = billed.model
