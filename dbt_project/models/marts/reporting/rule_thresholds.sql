{#-
  The dbt vars the rules ran with, published beside the figures they shaped, so whoever reads
  the mart (alerts, the report, a BI tool) uses the same threshold instead of a copy of it.
  tests/test_reporting_marts.py fails when a numeric var of dbt_project.yml is missing here.
-#}
{%- set names = [
    'success_eval_threshold', 'cost_spike_pct', 'cost_spike_min_increase_usd', 'cost_spike_baseline_days',
    'retry_rate_threshold', 'retry_rate_min_calls', 'token_inflation_pct', 'success_gain_points',
    'deployment_change_pct', 'deployment_window_hours', 'budget_at_risk_pct', 'budget_at_risk_day',
    'cheaper_alternative_max_success_drop', 'estimate_vs_bill_warn_pct', 'telemetry_coverage_warn_pct',
    'late_arrival_lookback_days', 'retry_waste_warn_share', 'untagged_share_warn', 'cost_spike_top_requests',
    'forecast_history_days', 'forecast_trend_days', 'forecast_min_history_days', 'forecast_interval_z',
    'realised_savings_dominant_share', 'realised_savings_window_days', 'realised_savings_min_successes',
    'effective_rate_min_billed_days',
] %}

{% for name in names %}
    select
        cast('{{ name }}' as {{ dbt.type_string() }}) as name,
        cast({{ var(name) }} as decimal(18, 6)) as value
    {% if not loop.last %}union all{% endif %}
{% endfor %}
