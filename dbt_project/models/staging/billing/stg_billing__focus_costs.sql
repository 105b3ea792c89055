{#-
  The FOCUS rows that state the cloud bill today (doc: focus_rule): for each provider, billing
  account and billing period, only the latest delivery's rows (a re-delivered month replaces
  the earlier one, restatements included), with the exchange rate in force on the charge day
  for exports not billed in USD (NULL when fx_rates.csv has none: a warning test names them).
-#}
with source as (

    select * from {{ source('billing', 'focus_costs') }}

),

deliveries as (

    select
        provider,
        billing_account_id,
        billing_period_day,
        max(source_folder) as latest_folder
    from source
    group by provider, billing_account_id, billing_period_day

),

latest as (

    select source.*
    from source
    inner join deliveries
        on deliveries.provider = source.provider
            and deliveries.billing_account_id = source.billing_account_id
            and deliveries.billing_period_day = source.billing_period_day
            and deliveries.latest_folder = source.source_folder

),

rates as (

    select
        upper(currency) as currency,
        rate_date,
        usd_per_unit,
        lead(rate_date) over (partition by upper(currency) order by rate_date) as next_rate_date
    from {{ source('billing', 'fx_rates') }}

),

converted as (

    select
        latest.*,
        upper(latest.billing_currency) as currency,
        case
            when upper(latest.billing_currency) = 'USD' then cast(1 as decimal(24, 12))
            else rates.usd_per_unit
        end as usd_per_unit
    from latest
    left join rates
        on rates.currency = upper(latest.billing_currency)
            and latest.charge_day >= rates.rate_date
            and (rates.next_rate_date is null or latest.charge_day < rates.next_rate_date)

)

select
    provider,
    charge_day as day,
    billing_period_day as billing_period_start,
    charge_period_start,
    charge_period_end,
    billing_account_id,
    sub_account_id as scope_id,
    -- As for the provider APIs: no sub-account is a scope of its own.
    coalesce(sub_account_id, '(no scope)') as scope_key,
    focus_provider,
    publisher,
    invoice_issuer,
    service_category,
    service_name,
    charge_category,
    charge_class,
    charge_description,
    sku_id,
    sku_meter,
    usage_type,
    region_id,
    resource_id,
    consumed_quantity,
    consumed_unit,
    pricing_unit,
    list_unit_price,
    currency as billing_currency,
    billed_cost,
    effective_cost,
    list_cost,
    usd_per_unit,
    workspace_tag,
    feature_tag,
    -- What the model mapping (seed focus_models) reads: the product, meter, usage type and
    -- description, lower case.
    lower(
        coalesce(service_name, '') || ' ' || coalesce(sku_meter, '') || ' ' || coalesce(usage_type, '')
        || ' ' || coalesce(charge_description, '')
    ) as bill_text,
    -- Tax is not model spend (the provider APIs' bills are before tax too).
    coalesce(lower(charge_category), '') <> 'tax' as is_model_spend,
    tags,
    source_folder,
    source_file,
    source_line
from converted
