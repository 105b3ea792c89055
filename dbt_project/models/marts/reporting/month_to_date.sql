{#-
  How far each month has got: its loaded days, the share of the calendar gone, and the pace
  against the budget (executive_summary holds the month's money; this holds its calendar).
  The flags are rules, so they are decided here once, in exact decimals:
  - ahead_of_budget_pace: spend / budget above the share of the month gone;
  - retry_waste_high: retry cost above retry_waste_warn_share of spend.
-#}
with loaded as (

    select
        month,
        min(day) as first_loaded_day,
        max(day) as last_loaded_day
    from {{ ref('daily_spend') }}
    group by month

),

calendar as (

    select
        loaded.*,
        {{ costline_day_of_month('loaded.last_loaded_day') }} as loaded_day_of_month,
        {{ costline_days_in_month('loaded.last_loaded_day') }} as days_in_month
    from loaded

)

select
    cast(calendar.month as {{ dbt.type_string() }}) as month,
    cast(calendar.first_loaded_day as date) as first_loaded_day,
    cast(calendar.last_loaded_day as date) as last_loaded_day,
    cast(calendar.loaded_day_of_month as integer) as loaded_day_of_month,
    cast(calendar.days_in_month as integer) as days_in_month,
    {{ costline_fraction('calendar.loaded_day_of_month', 'calendar.days_in_month') }} as month_elapsed_pct,
    cast(
        case when summary.budget_usd <> 0 then summary.projected_month_end_usd - summary.budget_usd end
        as decimal(18, 6)
    ) as projected_over_budget_usd,
    cast(
        case
            when summary.budget_usd <> 0
                then summary.spend_usd * calendar.days_in_month > summary.budget_usd * calendar.loaded_day_of_month
            else false
        end
        as boolean
    ) as ahead_of_budget_pace,
    cast(
        summary.retry_cost_usd > summary.spend_usd * cast({{ var('retry_waste_warn_share') }} as decimal(9, 6))
        as boolean
    ) as retry_waste_high
from calendar
inner join {{ ref('executive_summary') }} as summary
    on summary.month = calendar.month
