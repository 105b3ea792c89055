{#-
  Every bill line attribution spreads (doc: attributed_cost_rule), from the provider APIs and
  from the clouds' FOCUS exports alike: one row per provider, day, scope and line, in dollars.
  FOCUS rows are summed per line at the export's precision and rounded to the micro-dollar
  once (a row of $0.0000004 still counts), after the exchange rate for exports not billed in
  USD. A FOCUS line names a model family (seed focus_models) rather than a model, and may name
  the workspace and feature its tags give.
  The day still running is never billed (as the provider API sources never fetch it): a
  cloud's rows for it are incomplete, so its cost stays the estimate until the day is over.
  `is_credit` (doc: credit_rule) marks credits, refunds, promotions and adjustments by the
  rules of seed billing_credit_rules: attribution spreads usage lines only, and credit lines
  apart (int_billing_credits_allocated), so a credit never makes a call's cost negative.
-#}
{%- set open_day = costline_open_bound('day') %}

with credit_rules as (

    select field, pattern from {{ ref('billing_credit_rules') }}

),

negative_is_credit as (

    -- One row: whether the rules say a negative line is a credit (they do, unless edited).
    select count(*) > 0 as applies
    from credit_rules
    where field = 'amount' and pattern = 'negative'

),

api_texts as (

    select distinct lower(coalesce(line_item, '')) as line_text
    from {{ ref('stg_billing__costs') }}

),

credit_api_texts as (

    select api_texts.line_text
    from api_texts
    inner join credit_rules
        on credit_rules.field = 'line_item'
            and api_texts.line_text like credit_rules.pattern
    group by api_texts.line_text

),

api_lines as (

    select
        costs.provider,
        costs.day,
        costs.scope_id,
        costs.scope_key,
        costs.model,
        cast(null as {{ dbt.type_string() }}) as model_family,
        cast(null as {{ dbt.type_string() }}) as workspace_tag,
        cast(null as {{ dbt.type_string() }}) as feature_tag,
        costs.line_item,
        'USD' as billing_currency,
        cast(costs.amount_usd as decimal(18, 6)) as billed_amount,
        cast(costs.amount_usd as decimal(18, 6)) as amount_usd,
        cast(costs.amount_usd as decimal(18, 6)) as effective_cost_usd,
        'api' as bill_source,
        (costs.amount_usd < 0 and negative_is_credit.applies) or credit_api_texts.line_text is not null as is_credit
    from {{ ref('stg_billing__costs') }} as costs
    cross join negative_is_credit
    left join credit_api_texts
        on credit_api_texts.line_text = lower(coalesce(costs.line_item, ''))

),

focus_spend as (

    select * from {{ ref('stg_billing__focus_costs') }}
    where
        is_model_spend
        and usd_per_unit is not null
        and day < {{ costline_date_literal(open_day or '9999-12-31') }}

),

focus_texts as (

    select distinct
        lower(coalesce(charge_category, '')) as category_text,
        lower(coalesce(charge_description, '')) as line_text
    from focus_spend

),

credit_focus_texts as (

    select focus_texts.category_text, focus_texts.line_text
    from focus_texts
    inner join credit_rules
        on (credit_rules.field = 'charge_category' and focus_texts.category_text like credit_rules.pattern)
            or (credit_rules.field = 'line_item' and focus_texts.line_text like credit_rules.pattern)
    group by focus_texts.category_text, focus_texts.line_text

),

focus_rows as (

    -- A FOCUS row is a credit by its own sign and names, so one line may hold usage rows and
    -- credit rows: they become two lines.
    select
        focus_spend.*,
        (focus_spend.billed_cost < 0 and negative_is_credit.applies)
        or credit_focus_texts.line_text is not null as is_credit
    from focus_spend
    cross join negative_is_credit
    left join credit_focus_texts
        on credit_focus_texts.category_text = lower(coalesce(focus_spend.charge_category, ''))
            and credit_focus_texts.line_text = lower(coalesce(focus_spend.charge_description, ''))

),

bill_texts as (

    select distinct provider, bill_text from focus_rows

),

families as (

    select
        bill_texts.provider,
        bill_texts.bill_text,
        focus_models.model_family,
        row_number() over (
            partition by bill_texts.provider, bill_texts.bill_text
            order by length(focus_models.bill_pattern) desc, focus_models.model_family
        ) as pattern_rank
    from bill_texts
    inner join {{ ref('focus_models') }} as focus_models
        on focus_models.provider = bill_texts.provider
            and bill_texts.bill_text like focus_models.bill_pattern

),

focus_lines as (

    select
        focus_rows.provider,
        focus_rows.day,
        focus_rows.scope_id,
        focus_rows.scope_key,
        cast(null as {{ dbt.type_string() }}) as model,
        families.model_family,
        focus_rows.workspace_tag,
        focus_rows.feature_tag,
        focus_rows.service_name as line_item,
        focus_rows.billing_currency,
        focus_rows.usd_per_unit,
        focus_rows.is_credit,
        sum(focus_rows.billed_cost) as billed_amount,
        sum(focus_rows.effective_cost) as effective_amount
    from focus_rows
    left join families
        on families.provider = focus_rows.provider
            and families.bill_text = focus_rows.bill_text
            and families.pattern_rank = 1
    group by
        focus_rows.provider,
        focus_rows.day,
        focus_rows.scope_id,
        focus_rows.scope_key,
        families.model_family,
        focus_rows.workspace_tag,
        focus_rows.feature_tag,
        focus_rows.service_name,
        focus_rows.billing_currency,
        focus_rows.usd_per_unit,
        focus_rows.is_credit

)

select
    provider,
    day,
    scope_id,
    scope_key,
    model,
    model_family,
    workspace_tag,
    feature_tag,
    line_item,
    billing_currency,
    billed_amount,
    amount_usd,
    effective_cost_usd,
    bill_source,
    is_credit
from api_lines

union all

select
    provider,
    day,
    scope_id,
    scope_key,
    model,
    model_family,
    workspace_tag,
    feature_tag,
    line_item,
    billing_currency,
    cast(round(billed_amount, 6) as decimal(18, 6)) as billed_amount,
    cast(round(billed_amount * usd_per_unit, 6) as decimal(18, 6)) as amount_usd,
    -- FOCUS EffectiveCost (amortised commitments); the bill itself when the export has none.
    cast(round(coalesce(effective_amount, billed_amount) * usd_per_unit, 6) as decimal(18, 6)) as effective_cost_usd,
    'focus' as bill_source,
    is_credit
from focus_lines
