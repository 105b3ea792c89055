{#-
  One row per day of a month, from the 1st to the last loaded day of that month, for every
  workspace with a budget that month (doc: budget_rule). Loaded days are the days
  daily_spend holds for any workspace.
-#}
with daily as (

    select
        day,
        month,
        workspace,
        sum(cost_usd) as cost_usd
    from {{ ref('daily_spend') }}
    group by day, month, workspace

),

loaded_months as (

    select
        month,
        max(day) as last_loaded_day
    from daily
    group by month

),

budgets as (

    select * from {{ ref('stg_config__budgets') }}

),

budget_candidates as (

    -- The month's own row beats '*'; among equals the later line of budgets.csv wins.
    select
        budgets.workspace,
        loaded_months.month,
        loaded_months.last_loaded_day,
        budgets.monthly_budget_usd,
        budgets.hard_limit,
        budgets.budget_month,
        row_number() over (
            partition by budgets.workspace, loaded_months.month
            order by
                case when budgets.budget_month = loaded_months.month then 0 else 1 end,
                budgets.source_line desc
        ) as specificity_rank
    from loaded_months
    inner join budgets
        on budgets.budget_month = loaded_months.month
            or budgets.applies_to_every_month

),

workspace_months as (

    select
        workspace,
        month,
        last_loaded_day,
        monthly_budget_usd,
        hard_limit,
        budget_month,
        cast({{ dbt.concat(["month", "'-01'"]) }} as date) as month_start
    from budget_candidates
    where specificity_rank = 1

),

day_numbers as (

    {{ dbt.generate_series(31) }}

),

spine as (

    select
        workspace_months.*,
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'workspace_months.month_start') }} as date)
            as day
    from workspace_months
    inner join day_numbers
        on day_numbers.generated_number <= {{ costline_day_of_month('workspace_months.last_loaded_day') }}

),

forecasts as (

    select * from {{ ref('int_budget_forecasts') }}

),

burn as (

    select
        spine.day,
        spine.workspace,
        spine.month,
        spine.monthly_budget_usd,
        spine.hard_limit,
        spine.budget_month,
        {{ costline_day_of_month('spine.day') }} as day_of_month,
        {{ costline_days_in_month('spine.day') }} as days_in_month,
        coalesce(daily.cost_usd, 0) as daily_spend_usd,
        sum(coalesce(daily.cost_usd, 0)) over (
            partition by spine.workspace, spine.month
            order by spine.day
            rows between unbounded preceding and current row
        ) as spend_to_date_usd,
        forecasts.forecast_method,
        forecasts.forecast_month_end_usd,
        forecasts.forecast_low_usd,
        forecasts.forecast_high_usd
    from spine
    left join daily
        on daily.workspace = spine.workspace
            and daily.day = spine.day
    left join forecasts
        on forecasts.workspace = spine.workspace
            and forecasts.day = spine.day

)

select
    cast(day as date) as day,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(month as {{ dbt.type_string() }}) as month,
    cast(monthly_budget_usd as decimal(18, 6)) as monthly_budget_usd,
    cast(hard_limit as boolean) as hard_limit,
    cast(budget_month as {{ dbt.type_string() }}) as budget_row_month,
    cast(day_of_month as integer) as day_of_month,
    cast(days_in_month as integer) as days_in_month,
    cast(spend_to_date_usd as decimal(18, 6)) as spend_to_date_usd,
    {{ costline_fraction('spend_to_date_usd', 'monthly_budget_usd') }} as consumed_pct,
    {{ costline_fraction('day_of_month', 'days_in_month') }} as expected_pct,
    {{ costline_money_ratio('spend_to_date_usd * days_in_month', 'day_of_month') }} as projected_month_end_usd,
    cast(daily_spend_usd as decimal(18, 6)) as daily_spend_usd,
    {{ costline_fraction('daily_spend_usd * days_in_month - monthly_budget_usd', 'monthly_budget_usd') }}
        as daily_variance_pct,
    cast(
        case
            -- Compared in exact decimals: "85 %" must not become 84.99999 %.
            when spend_to_date_usd >= monthly_budget_usd and spend_to_date_usd > 0 then 'exceeded'
            when day_of_month <= {{ var('budget_at_risk_day') }}
                and spend_to_date_usd >= monthly_budget_usd * cast({{ var('budget_at_risk_pct') }} as decimal(9, 6))
                and spend_to_date_usd > 0
                then 'at_risk'
            when forecast_method = 'weekday_trend' and forecast_month_end_usd > monthly_budget_usd then 'at_risk'
            when coalesce(forecast_method, 'linear') = 'linear'
                and spend_to_date_usd * days_in_month > monthly_budget_usd * day_of_month
                then 'at_risk'
            else 'ok'
        end
        as {{ dbt.type_string() }}
    ) as status,
    -- The forecast (doc: forecast_rule); with too little history it is the linear projection.
    cast(coalesce(forecast_method, 'linear') as {{ dbt.type_string() }}) as forecast_method,
    cast(
        coalesce(
            forecast_month_end_usd,
            {{ costline_money_ratio('spend_to_date_usd * days_in_month', 'day_of_month') }}
        ) as decimal(18, 6)
    ) as forecast_month_end_usd,
    cast(forecast_low_usd as decimal(18, 6)) as forecast_low_usd,
    cast(forecast_high_usd as decimal(18, 6)) as forecast_high_usd
from burn
