{#-
  Every bill line attribution spreads (doc: attributed_cost_rule), from the provider APIs and
  from the clouds' FOCUS exports alike: one row per provider, day, scope and line, in dollars.
  FOCUS rows are summed per line at the export's precision and rounded to the micro-dollar
  once (a row of $0.0000004 still counts), after the exchange rate for exports not billed in
  USD. A FOCUS line names a model family (seed focus_models) rather than a model, and may name
  the workspace and feature its tags give.
  The day still running is never billed (as the provider API sources never fetch it): a
  cloud's rows for it are incomplete, so its cost stays the estimate until the day is over.
-#}
{%- set open_day = costline_open_bound('day') %}

with api_lines as (

    select
        provider,
        day,
        scope_id,
        scope_key,
        model,
        cast(null as {{ dbt.type_string() }}) as model_family,
        cast(null as {{ dbt.type_string() }}) as workspace_tag,
        cast(null as {{ dbt.type_string() }}) as feature_tag,
        line_item,
        'USD' as billing_currency,
        cast(amount_usd as decimal(18, 6)) as billed_amount,
        cast(amount_usd as decimal(18, 6)) as amount_usd,
        cast(amount_usd as decimal(18, 6)) as effective_cost_usd,
        'api' as bill_source
    from {{ ref('stg_billing__costs') }}

),

focus_rows as (

    select * from {{ ref('stg_billing__focus_costs') }}
    where
        is_model_spend
        and usd_per_unit is not null
        and day < {{ costline_date_literal(open_day or '9999-12-31') }}

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
        focus_rows.usd_per_unit

)

select * from api_lines

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
    'focus' as bill_source
from focus_lines
