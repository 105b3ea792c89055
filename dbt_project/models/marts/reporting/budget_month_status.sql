{#-
  Each workspace's budget as of the last loaded day of each month: the budget_burn row that
  the report's budget table, the alerts and the demo summary all show.
-#}
with ranked as (

    select
        *,
        row_number() over (partition by workspace, month order by day desc) as newest
    from {{ ref('budget_burn') }}

)

select
    cast(month as {{ dbt.type_string() }}) as month,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(day as date) as as_of_day,
    cast(monthly_budget_usd as decimal(18, 6)) as monthly_budget_usd,
    cast(hard_limit as boolean) as hard_limit,
    cast(spend_to_date_usd as decimal(18, 6)) as spend_to_date_usd,
    cast(consumed_pct as {{ costline_type_double() }}) as consumed_pct,
    cast(expected_pct as {{ costline_type_double() }}) as expected_pct,
    cast(projected_month_end_usd as decimal(18, 6)) as projected_month_end_usd,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(forecast_method as {{ dbt.type_string() }}) as forecast_method,
    cast(forecast_month_end_usd as decimal(18, 6)) as forecast_month_end_usd,
    cast(forecast_low_usd as decimal(18, 6)) as forecast_low_usd,
    cast(forecast_high_usd as decimal(18, 6)) as forecast_high_usd
from ranked
where newest = 1
