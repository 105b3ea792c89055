{#-
  The month-end forecast of each workspace as of each loaded day (doc: forecast_rule): spend
  to date plus, for every day left in the month, the recent level and trend of its daily cost
  times its weekday's share. Rebuilt whole every run (workspaces x days x the history window).

  Floats are used for the fit (a weekday index, a least-squares slope); the results are money
  columns rounded to the cent (through a DECIMAL: Postgres has no round of a double to a
  scale), so every engine publishes the same figures.
-#}
{%- set history_days = var('forecast_history_days') %}
{%- set trend_days = var('forecast_trend_days') %}
{%- set min_history_days = var('forecast_min_history_days') %}
{%- set double = costline_type_double() %}

with daily as (

    select
        day,
        month,
        workspace,
        sum(cost_usd) as cost_usd
    from {{ ref('int_spend_hourly') }}
    group by day, month, workspace

),

loaded_days as (

    select distinct
        day,
        month
    from daily

),

first_days as (

    select
        workspace,
        min(day) as first_day
    from daily
    group by workspace

),

-- Every loaded day of each workspace since its first spend: a quiet day is a zero, not a gap.
workspace_days as (

    select
        first_days.workspace,
        loaded_days.day,
        loaded_days.month,
        coalesce(daily.cost_usd, 0) as cost_usd,
        {{ costline_is_partial_day('loaded_days.day') }} as is_partial,
        -- 0 = Monday: days since Monday 2000-01-03, modulo 7 (no engine-specific weekday function).
        mod({{ dbt.datediff("cast('2000-01-03' as date)", 'loaded_days.day', 'day') }}, 7) as weekday,
        {{ costline_day_of_month('loaded_days.day') }} as day_of_month,
        {{ costline_days_in_month('loaded_days.day') }} as days_in_month
    from first_days
    inner join loaded_days
        on loaded_days.day >= first_days.first_day
    left join daily
        on daily.workspace = first_days.workspace
            and daily.day = loaded_days.day

),

-- Each as-of day with the complete days of its history window (a partial day is not history).
history as (

    select
        as_of.workspace,
        as_of.day as as_of_day,
        past.weekday,
        cast(past.cost_usd as {{ double }}) as cost_usd,
        {{ dbt.datediff('as_of.day', 'past.day', 'day') }}
            as offset_days
    from workspace_days as as_of
    inner join workspace_days as past
        on past.workspace = as_of.workspace
            and past.day <= as_of.day
            and past.day > {{ dbt.dateadd('day', -history_days, 'as_of.day') }}
            and not past.is_partial

),

history_size as (

    select
        workspace,
        as_of_day,
        count(*) as history_days,
        avg(cost_usd) as mean_cost
    from history
    group by workspace, as_of_day

),

-- A weekday's index: its mean cost over the mean of all days (1 when nothing was spent).
weekday_profile as (

    select
        history.workspace,
        history.as_of_day,
        history.weekday,
        case
            when max(history_size.mean_cost) > 0 then avg(history.cost_usd) / max(history_size.mean_cost)
            else cast(1 as {{ double }})
        end as weekday_index
    from history
    inner join history_size
        on history_size.workspace = history.workspace
            and history_size.as_of_day = history.as_of_day
    group by history.workspace, history.as_of_day, history.weekday

),

-- The recent days with the weekday taken out: the level the trend is fitted to.
deseasonalised as (

    select
        history.workspace,
        history.as_of_day,
        cast(history.offset_days as {{ double }}) as offset_days,
        case
            when weekday_profile.weekday_index > 0 then history.cost_usd / weekday_profile.weekday_index
            else cast(0 as {{ double }})
        end as level_cost
    from history
    inner join weekday_profile
        on weekday_profile.workspace = history.workspace
            and weekday_profile.as_of_day = history.as_of_day
            and weekday_profile.weekday = history.weekday
    where history.offset_days > -{{ trend_days }}

),

fitted as (

    select
        workspace,
        as_of_day,
        coalesce(regr_slope(level_cost, offset_days), 0) as slope,
        regr_intercept(level_cost, offset_days) as level_today
    from deseasonalised
    group by workspace, as_of_day
    -- A line needs two days (one day's slope is NaN on some engines).
    having count(*) >= 2

),

residuals as (

    select
        deseasonalised.workspace,
        deseasonalised.as_of_day,
        coalesce(
            stddev_samp(
                deseasonalised.level_cost - (fitted.level_today + fitted.slope * deseasonalised.offset_days)
            ),
            0
        ) as residual_sd,
        -- What the interval needs of the fit: its days, their mean offset, their spread.
        count(*) as fitted_days,
        avg(deseasonalised.offset_days) as mean_offset,
        var_pop(deseasonalised.offset_days) * count(*) as offset_spread
    from deseasonalised
    inner join fitted
        on fitted.workspace = deseasonalised.workspace
            and fitted.as_of_day = deseasonalised.as_of_day
    group by deseasonalised.workspace, deseasonalised.as_of_day

),

day_numbers as (

    {{ dbt.generate_series(31) }}

),

-- Each as-of day with the days it forecasts: the rest of its month, and itself while it is
-- open (the part of an open day not yet spent is still to come).
ahead as (

    select
        as_of.workspace,
        as_of.day as as_of_day,
        as_of.cost_usd as as_of_cost_usd,
        as_of.is_partial,
        cast(day_numbers.generated_number - 1 as {{ dbt.type_int() }}) as days_ahead,
        -- generate_series numbers are floats on Postgres (power of 2 sums): cast before mod.
        mod(cast(as_of.weekday + day_numbers.generated_number - 1 as {{ dbt.type_int() }}), 7) as weekday
    from workspace_days as as_of
    inner join day_numbers
        on day_numbers.generated_number - 1 <= as_of.days_in_month - as_of.day_of_month
    where day_numbers.generated_number > 1 or as_of.is_partial

),

forecast_days as (

    select
        ahead.workspace,
        ahead.as_of_day,
        ahead.days_ahead,
        greatest(fitted.level_today + fitted.slope * ahead.days_ahead, 0) * weekday_profile.weekday_index
            as forecast_cost,
        ahead.as_of_cost_usd,
        ahead.is_partial
    from ahead
    inner join fitted
        on fitted.workspace = ahead.workspace
            and fitted.as_of_day = ahead.as_of_day
    inner join weekday_profile
        on weekday_profile.workspace = ahead.workspace
            and weekday_profile.as_of_day = ahead.as_of_day
            and weekday_profile.weekday = ahead.weekday

),

still_to_come as (

    select
        workspace,
        as_of_day,
        count(*) as forecast_days,
        sum(days_ahead) as days_ahead_sum,
        sum(
            case
                when days_ahead = 0
                    then greatest(forecast_cost - cast(as_of_cost_usd as {{ double }}), 0)
                else forecast_cost
            end
        ) as forecast_rest_usd
    from forecast_days
    group by workspace, as_of_day

),

to_date as (

    select
        workspace,
        day as as_of_day,
        month,
        day_of_month,
        days_in_month,
        sum(cost_usd) over (
            partition by workspace, month
            order by day
            rows between unbounded preceding and current row
        ) as spend_to_date_usd
    from workspace_days

),

forecasts as (

    select
        to_date.workspace,
        to_date.as_of_day,
        to_date.month,
        to_date.day_of_month,
        to_date.days_in_month,
        to_date.spend_to_date_usd,
        coalesce(history_size.history_days, 0) >= {{ min_history_days }} as has_history,
        coalesce(history_size.history_days, 0) as history_days,
        fitted.slope,
        cast(to_date.spend_to_date_usd as {{ double }}) + coalesce(still_to_come.forecast_rest_usd, 0)
            as forecast_usd,
        -- The prediction interval of a least-squares line summed over the R days still to come
        -- (k days ahead; the fit's n days at mean offset t with spread Sxx): each day's own
        -- noise (R), the level's error (R^2 / n) and the slope's ((sum of (k - t))^2 / Sxx), in
        -- residual deviations, times forecast_interval_z.
        {{ var('forecast_interval_z') }} * residuals.residual_sd * sqrt(
            coalesce(still_to_come.forecast_days, 0)
            + cast(coalesce(still_to_come.forecast_days, 0) as {{ double }})
            * coalesce(still_to_come.forecast_days, 0) / residuals.fitted_days
            + case
                when residuals.offset_spread > 0
                    then power(
                            coalesce(still_to_come.days_ahead_sum, 0)
                            - coalesce(still_to_come.forecast_days, 0) * residuals.mean_offset,
                            2
                        ) / residuals.offset_spread
                else 0
            end
        ) as half_width
    from to_date
    left join history_size
        on history_size.workspace = to_date.workspace
            and history_size.as_of_day = to_date.as_of_day
    left join fitted
        on fitted.workspace = to_date.workspace
            and fitted.as_of_day = to_date.as_of_day
    left join residuals
        on residuals.workspace = to_date.workspace
            and residuals.as_of_day = to_date.as_of_day
    left join still_to_come
        on still_to_come.workspace = to_date.workspace
            and still_to_come.as_of_day = to_date.as_of_day

)

select
    cast(as_of_day as date) as day,
    cast(workspace as {{ dbt.type_string() }}) as workspace,
    cast(month as {{ dbt.type_string() }}) as month,
    cast(history_days as integer) as history_days,
    cast(case when has_history then 'weekday_trend' else 'linear' end as {{ dbt.type_string() }})
        as forecast_method,
    cast(spend_to_date_usd as decimal(18, 6)) as spend_to_date_usd,
    -- With too little history the forecast is the linear projection (budget_burn's own column).
    case
        when has_history then cast(round(cast(forecast_usd as decimal(38, 10)), 2) as decimal(18, 6))
        else {{ costline_money_ratio('spend_to_date_usd * days_in_month', 'day_of_month') }}
    end as forecast_month_end_usd,
    -- Never below the spend already made.
    case
        when has_history
            then cast(
                    round(
                        cast(
                            greatest(forecast_usd - half_width, cast(spend_to_date_usd as {{ double }})) as decimal(
                                38, 10
                            )
                        ),
                        2
                    ) as decimal(18, 6)
                )
    end as forecast_low_usd,
    case when has_history then cast(round(cast(forecast_usd + half_width as decimal(38, 10)), 2) as decimal(18, 6)) end
        as forecast_high_usd,
    case when has_history then cast(round(cast(slope as decimal(38, 10)), 6) as decimal(18, 6)) end as trend_usd_per_day
from forecasts
