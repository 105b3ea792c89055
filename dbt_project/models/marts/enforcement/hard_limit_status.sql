{#-
  Which workspaces have reached their hard limit this month (doc: hard_limit_rule): the rule
  costline's gateway enforcement acts on (enforcement/, after publication). One row per
  workspace whose budget for the enforcement month has hard_limit = true.
-#}
{%- set open_day = costline_open_bound('day') %}
with budget_months as (

    select * from {{ ref('budget_month_status') }}

),

enforcement_month as (

    -- The month of the open day (the clock's month, COSTLINE_OPEN_DAY); a hand-run build
    -- without it judges the latest loaded month.
    {% if open_day is not none -%}
        select cast('{{ open_day[:7] }}' as {{ dbt.type_string() }}) as month
    {%- else -%}
        select max(month) as month from budget_months
    {%- endif %}

)

select
    cast(budget_months.month as {{ dbt.type_string() }}) as month,
    cast(budget_months.workspace as {{ dbt.type_string() }}) as workspace,
    cast(budget_months.as_of_day as date) as as_of_day,
    cast({{ costline_is_partial_day('budget_months.as_of_day') }} as boolean) as is_partial,
    cast(budget_months.monthly_budget_usd as decimal(18, 6)) as hard_limit_usd,
    cast(budget_months.spend_to_date_usd as decimal(18, 6)) as spend_to_date_usd,
    cast(budget_months.consumed_pct as {{ costline_type_double() }}) as consumed_pct,
    -- Exact decimals, and spend above 0: a $0 hard limit stops the first spend, not an idle team.
    cast(
        budget_months.spend_to_date_usd >= budget_months.monthly_budget_usd
        and budget_months.spend_to_date_usd > 0
        as boolean
    ) as over_hard_limit,
    cast(
        case
            when
                budget_months.spend_to_date_usd >= budget_months.monthly_budget_usd
                and budget_months.spend_to_date_usd > 0
                then 'block'
            else 'allow'
        end
        as {{ dbt.type_string() }}
    ) as gateway_action
from budget_months
inner join enforcement_month
    on budget_months.month = enforcement_month.month
where budget_months.hard_limit
