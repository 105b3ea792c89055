{#- On Spark partitioned by ChargePeriodStart (a UTC midnight: FOCUS has no `day` column), whose
    window partitions the pre-hook drops there (docs/SPARK.md); elsewhere it deletes the rows. -#}
{{
    config(
        materialized='incremental',
        partition_by=costline_partition_by(adapter.quote('ChargePeriodStart')),
        pre_hook=["{{ costline_delete_window(adapter.quote('ChargePeriodStart')) }}"]
    )
}}
{#-
  costline's attributed spend as a FOCUS 1.2 cost and usage dataset (doc: focus_export_rule).
  One row per UTC day, provider, billing scope, model, workspace, feature and prompt version:
  the calls' attributed cost (int_calls_attributed) plus the billed money no call carries
  (int_billing_costs_unattributed), the same two parts daily_spend sums, so BilledCost summed
  per day and provider is daily_spend's cost_usd exactly. Column names are FOCUS's own
  (quoted: they are case-sensitive outside DuckDB); costline's extra columns start with x_.
  Incremental like the tables it reads: the run window's days are replaced.
-#}
{%- set incremental = is_incremental() -%}
{%- set measures = ['api_calls', 'input_tokens', 'output_tokens', 'cache_read_input_tokens',
    'cache_creation_input_tokens', 'reasoning_output_tokens', 'list_cost_usd', 'billed_cost_usd',
    'from_bill_usd'] %}

with calls as (

    select * from {{ ref('int_calls_attributed') }}
    where {{ day_in_window('day', incremental) }}

),

unattributed as (

    select * from {{ ref('int_billing_costs_unattributed') }}
    where {{ day_in_window('day', incremental) }}

),

call_charges as (

    select
        day,
        provider,
        scope_id,
        model,
        workspace,
        feature,
        prompt_version,
        count(*) as api_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens,
        sum(reasoning_output_tokens) as reasoning_output_tokens,
        sum(estimated_cost_usd) as list_cost_usd,
        sum(cost_usd) as billed_cost_usd,
        sum(case when is_billed then cost_usd else 0 end) as from_bill_usd
    from calls
    group by day, provider, scope_id, model, workspace, feature, prompt_version

),

unattributed_charges as (

    -- No call carries this money, so there is no list-price estimate and no token count:
    -- ListCost is the bill (no discount is claimed), the tokens are 0.
    select
        day,
        provider,
        scope_id,
        model,
        workspace,
        feature,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        0 as api_calls,
        0 as input_tokens,
        0 as output_tokens,
        0 as cache_read_input_tokens,
        0 as cache_creation_input_tokens,
        0 as reasoning_output_tokens,
        sum(cost_usd) as list_cost_usd,
        sum(cost_usd) as billed_cost_usd,
        sum(cost_usd) as from_bill_usd
    from unattributed
    group by day, provider, scope_id, model, workspace, feature

),

charges as (

    select
        day,
        provider,
        scope_id,
        model,
        workspace,
        feature,
        prompt_version,
        {{ costline_sum_columns(measures) }}
    from (
        select * from call_charges
        union all
        select * from unattributed_charges
    ) as unioned
    group by day, provider, scope_id, model, workspace, feature, prompt_version

),

effective_costs as (

    -- EffectiveCost rule: the cost after amortising commitments. costline knows of no
    -- commitment (no prepaid credits, no reserved capacity), so EffectiveCost = BilledCost.
    -- This is the one place to change when amortised costs become known (e.g. a cloud's
    -- FOCUS export's own EffectiveCost).
    select
        charges.*,
        charges.billed_cost_usd as effective_cost_usd
    from charges

),

provider_models as (

    select distinct provider, model from charges

),

service_matches as (

    -- The seed row of the provider whose pattern matches the model; the longest pattern wins.
    select
        provider_models.provider,
        provider_models.model,
        focus_services.provider_name,
        focus_services.invoice_issuer_name,
        focus_services.service_name,
        focus_services.publisher_name,
        focus_services.service_category,
        focus_services.service_subcategory,
        row_number() over (
            partition by provider_models.provider, provider_models.model
            order by length(focus_services.model_pattern) desc, focus_services.model_pattern
        ) as match_rank
    from provider_models
    inner join {{ ref('focus_services') }} as focus_services
        on focus_services.provider = provider_models.provider
            and lower(provider_models.model) like focus_services.model_pattern

),

services as (

    -- A provider the seed does not list is named by its costline name everywhere (FOCUS
    -- wants a value in each of these columns); its spend is still AI model spend.
    select
        provider_models.provider,
        provider_models.model,
        coalesce(service_matches.provider_name, provider_models.provider) as provider_name,
        coalesce(service_matches.invoice_issuer_name, provider_models.provider) as invoice_issuer_name,
        coalesce(service_matches.service_name, provider_models.provider) as service_name,
        coalesce(service_matches.publisher_name, provider_models.provider) as publisher_name,
        coalesce(service_matches.service_category, 'AI and Machine Learning') as service_category,
        coalesce(service_matches.service_subcategory, 'Generative AI') as service_subcategory
    from provider_models
    left join service_matches
        on service_matches.provider = provider_models.provider
            and service_matches.model = provider_models.model
            and service_matches.match_rank = 1

),

scope_names as (

    -- SubAccountName: the workspace workspaces.csv maps the scope to (the first by name).
    select
        provider,
        project_id,
        min(workspace) as workspace
    from {{ ref('stg_config__workspaces') }}
    group by provider, project_id

),

named as (

    select
        effective_costs.*,
        services.provider_name,
        services.invoice_issuer_name,
        services.service_name,
        services.publisher_name,
        services.service_category,
        services.service_subcategory,
        coalesce(scope_names.workspace, effective_costs.scope_id) as scope_name,
        cast(effective_costs.day as {{ dbt.type_timestamp() }}) as charge_period_start,
        cast({{ dbt.date_trunc('month', 'effective_costs.day') }} as {{ dbt.type_timestamp() }}) as billing_period_start
    from effective_costs
    inner join services
        on services.provider = effective_costs.provider
            and services.model = effective_costs.model
    left join scope_names
        on scope_names.provider = effective_costs.provider
            and scope_names.project_id = effective_costs.scope_id

)

select
    -- costline knows one billing account per provider (one admin key or bill each): its
    -- costline name, never all digits (a CSV reader would take digits for a number).
    cast(provider as {{ dbt.type_string() }}) as {{ adapter.quote('BillingAccountId') }},
    cast({{ dbt.concat(['provider_name', "' billing account'"]) }} as {{ dbt.type_string() }})
        as {{ adapter.quote('BillingAccountName') }},
    cast(scope_id as {{ dbt.type_string() }}) as {{ adapter.quote('SubAccountId') }},
    cast(case when scope_id is not null then scope_name end as {{ dbt.type_string() }})
        as {{ adapter.quote('SubAccountName') }},
    billing_period_start as {{ adapter.quote('BillingPeriodStart') }},
    cast({{ dbt.dateadd('month', 1, 'billing_period_start') }} as {{ dbt.type_timestamp() }})
        as {{ adapter.quote('BillingPeriodEnd') }},
    charge_period_start as {{ adapter.quote('ChargePeriodStart') }},
    cast({{ dbt.dateadd('day', 1, 'charge_period_start') }} as {{ dbt.type_timestamp() }})
        as {{ adapter.quote('ChargePeriodEnd') }},
    cast('USD' as {{ dbt.type_string() }}) as {{ adapter.quote('BillingCurrency') }},
    cast(billed_cost_usd as decimal(18, 6)) as {{ adapter.quote('BilledCost') }},
    cast(effective_cost_usd as decimal(18, 6)) as {{ adapter.quote('EffectiveCost') }},
    cast(list_cost_usd as decimal(18, 6)) as {{ adapter.quote('ListCost') }},
    -- No negotiated unit prices are known apart from the bill itself.
    cast(billed_cost_usd as decimal(18, 6)) as {{ adapter.quote('ContractedCost') }},
    cast('Usage' as {{ dbt.type_string() }}) as {{ adapter.quote('ChargeCategory') }},
    cast(null as {{ dbt.type_string() }}) as {{ adapter.quote('ChargeClass') }},
    cast(
        case
            when api_calls = 0 and model = '(unattributed)' then 'Billed usage no call telemetry explains'
            when api_calls = 0 then {{ dbt.concat(["'Billed '", 'model', "' usage no call telemetry explains'"]) }}
            else {{ dbt.concat(['model', "' tokens, '", 'workspace', "' / '", 'feature']) }}
        end as {{ dbt.type_string() }}
    ) as {{ adapter.quote('ChargeDescription') }},
    cast('Usage-Based' as {{ dbt.type_string() }}) as {{ adapter.quote('ChargeFrequency') }},
    cast(input_tokens + output_tokens as decimal(38, 6)) as {{ adapter.quote('ConsumedQuantity') }},
    cast('Tokens' as {{ dbt.type_string() }}) as {{ adapter.quote('ConsumedUnit') }},
    cast(input_tokens + output_tokens as decimal(38, 6)) as {{ adapter.quote('PricingQuantity') }},
    cast('Tokens' as {{ dbt.type_string() }}) as {{ adapter.quote('PricingUnit') }},
    cast('Standard' as {{ dbt.type_string() }}) as {{ adapter.quote('PricingCategory') }},
    cast(null as {{ dbt.type_string() }}) as {{ adapter.quote('CommitmentDiscountStatus') }},
    cast(null as {{ dbt.type_string() }}) as {{ adapter.quote('InvoiceId') }},
    cast(invoice_issuer_name as {{ dbt.type_string() }}) as {{ adapter.quote('InvoiceIssuerName') }},
    cast(provider_name as {{ dbt.type_string() }}) as {{ adapter.quote('ProviderName') }},
    cast(publisher_name as {{ dbt.type_string() }}) as {{ adapter.quote('PublisherName') }},
    cast(service_category as {{ dbt.type_string() }}) as {{ adapter.quote('ServiceCategory') }},
    cast(service_subcategory as {{ dbt.type_string() }}) as {{ adapter.quote('ServiceSubcategory') }},
    cast(service_name as {{ dbt.type_string() }}) as {{ adapter.quote('ServiceName') }},
    cast(provider as {{ dbt.type_string() }}) as {{ adapter.quote('x_Provider') }},
    cast(model as {{ dbt.type_string() }}) as {{ adapter.quote('x_Model') }},
    cast(workspace as {{ dbt.type_string() }}) as {{ adapter.quote('x_Workspace') }},
    cast(feature as {{ dbt.type_string() }}) as {{ adapter.quote('x_Feature') }},
    cast(prompt_version as {{ dbt.type_string() }}) as {{ adapter.quote('x_PromptVersion') }},
    cast(api_calls as bigint) as {{ adapter.quote('x_ApiCalls') }},
    cast(input_tokens as bigint) as {{ adapter.quote('x_InputTokens') }},
    cast(output_tokens as bigint) as {{ adapter.quote('x_OutputTokens') }},
    cast(cache_read_input_tokens as bigint) as {{ adapter.quote('x_CacheReadInputTokens') }},
    cast(cache_creation_input_tokens as bigint) as {{ adapter.quote('x_CacheCreationInputTokens') }},
    cast(reasoning_output_tokens as bigint) as {{ adapter.quote('x_ReasoningOutputTokens') }},
    cast({{ costline_cost_basis('billed_cost_usd', 'from_bill_usd') }} as {{ dbt.type_string() }})
        as {{ adapter.quote('x_CostBasis') }},
    {{ costline_is_partial_day('day') }} as {{ adapter.quote('x_IsPartial') }}
from named
