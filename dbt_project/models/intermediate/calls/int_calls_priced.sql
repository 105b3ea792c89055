{{
    config(materialized='view')
}}
{#-
  Every call with its estimated cost (doc: estimated_cost_rule), at the prices loaded now.
  A view, not a table: its readers (int_calls_attributed, int_requests_resolved) take the
  window's days only, and the day filter reaches the raw scan, so storing a second copy of
  every call would only cost time (~9 s on a 10M-call day) and disk. What a run stored is
  in int_calls_attributed.
-#}
{%- set price_columns = [
    'input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok', 'reasoning_mtok',
    'long_context_threshold', 'input_mtok_long', 'output_mtok_long', 'cache_read_mtok_long',
    'cache_write_mtok_long',
] %}

with calls as (

    select * from {{ ref('stg_telemetry__calls') }}

),

prices as (

    select * from {{ ref('int_model_prices_deduplicated') }}

),

tier_names as (

    select * from {{ ref('service_tier_names') }}

),

multipliers as (

    select * from {{ ref('service_tier_multipliers') }}

),

tiered_calls as (

    -- The tier in costline's names: a provider's own name mapped by seed service_tier_names,
    -- any other value as it is; a call whose telemetry named none is standard, not reported.
    select
        calls.*,
        case
            when calls.service_tier <> '{{ var("service_tier_unreported_label") }}' then calls.service_tier
        end as reported_service_tier,
        case
            when calls.service_tier = '{{ var("service_tier_unreported_label") }}' then 'standard'
            else coalesce(tier_names.service_tier, calls.service_tier)
        end as served_tier,
        calls.service_tier <> '{{ var("service_tier_unreported_label") }}'
        and coalesce(tier_names.names_served_tier, true) as is_service_tier_reported
    from calls
    left join tier_names
        on tier_names.provider = calls.provider
            and tier_names.reported_tier = calls.service_tier

),

matched as (

    -- The standard price always; the tier's own rate where one is listed for the call's time
    -- (it then replaces every component); else the standard price times the tier multiplier.
    select
        tiered_calls.*,
        standard.provider is not null as has_list_price,
        tier.provider is not null as has_tier_rate,
        case
            when standard.provider is null then null
            when tiered_calls.served_tier = 'standard' then 'standard'
            when tier.provider is not null then 'tier_rate'
            when multipliers.multiplier is not null then 'tier_multiplier'
            else 'tier_unpriced'
        end as tier_price_source,
        coalesce(tier.price_model_id, standard.price_model_id) as price_model_id,
        coalesce(tier.price_data_version, standard.price_data_version) as price_data_version,
        {%- for column in price_columns %}
            case when tier.provider is not null then tier.{{ column }} else standard.{{ column }} end as {{ column }},
        {%- endfor %}
        case when tier.provider is null then coalesce(multipliers.multiplier, 1) else 1 end as service_tier_multiplier
    from tiered_calls
    left join prices as standard
        on standard.provider = tiered_calls.provider
            and standard.model = tiered_calls.model
            and standard.service_tier = 'standard'
            and tiered_calls.started_at >= standard.effective_from
            and tiered_calls.started_at < standard.effective_to
    left join prices as tier
        on tier.provider = tiered_calls.provider
            and tier.model = tiered_calls.model
            and tier.service_tier = tiered_calls.served_tier
            and tier.service_tier <> 'standard'
            and tiered_calls.started_at >= tier.effective_from
            and tiered_calls.started_at < tier.effective_to
    left join multipliers
        on multipliers.provider = tiered_calls.provider
            and multipliers.service_tier = tiered_calls.served_tier

),

long_context as (

    select
        matched.*,
        coalesce(
            long_context_threshold is not null
            and input_tokens > long_context_threshold,
            false
        ) as is_long_context
    from matched

),

rates as (

    select
        long_context.*,
        -- Above the long-context threshold the _long price applies to the whole call; a
        -- component without a _long price keeps its base price.
        case when is_long_context then coalesce(input_mtok_long, input_mtok) else input_mtok end
            as input_rate,
        case when is_long_context then coalesce(output_mtok_long, output_mtok) else output_mtok end
            as output_rate,
        case
            when is_long_context
                then coalesce(cache_read_mtok_long, cache_read_mtok, input_mtok_long, input_mtok)
            else coalesce(cache_read_mtok, input_mtok)
        end as cache_read_rate,
        case
            when is_long_context
                then coalesce(cache_write_mtok_long, cache_write_mtok, input_mtok_long, input_mtok)
            else coalesce(cache_write_mtok, input_mtok)
        end as cache_write_rate,
        -- Cache tokens are part of input_tokens; ingestion rejects cache > input, the floor
        -- at zero only keeps a bad sum of the two from producing a negative charge.
        greatest(input_tokens - cache_read_input_tokens - cache_creation_input_tokens, 0)
            as uncached_input_tokens,
        case when reasoning_mtok is not null then reasoning_output_tokens else 0 end
            as reasoning_tokens_at_reasoning_rate
    from long_context

),

costed as (

    select
        rates.*,
        case
            when has_list_price then
                cast(round(
                    (
                        cast(uncached_input_tokens as decimal(38, 0)) * input_rate
                        + cast(cache_read_input_tokens as decimal(38, 0)) * cache_read_rate
                        + cast(cache_creation_input_tokens as decimal(38, 0)) * cache_write_rate
                        + cast(greatest(output_tokens - reasoning_tokens_at_reasoning_rate, 0) as decimal(38, 0))
                        * output_rate
                        + cast(reasoning_tokens_at_reasoning_rate as decimal(38, 0))
                        * coalesce(reasoning_mtok, output_rate)
                    )
                    * service_tier_multiplier
                    * cast(0.000001 as decimal(7, 6)),
                    6
                ) as decimal(18, 6))
        end as list_price_cost_usd
    from rates

)

select
    call_id,
    request_id,
    attempt,
    started_at,
    day,
    hour,
    month,
    duration_ms,
    provider,
    model,
    operation,
    input_tokens,
    output_tokens,
    cache_read_input_tokens,
    cache_creation_input_tokens,
    reasoning_output_tokens,
    uncached_input_tokens,
    status,
    error_type,
    status = 'error' as is_error,
    attempt > 1 as is_retry,
    served_tier as service_tier,
    reported_service_tier,
    is_service_tier_reported,
    tier_price_source,
    service_tier_multiplier,
    is_long_context,
    workspace,
    feature,
    environment,
    user_segment,
    prompt_version,
    project_id,
    reported_cost_usd,
    list_price_cost_usd,
    cast(coalesce(reported_cost_usd, list_price_cost_usd, 0) as decimal(18, 6)) as estimated_cost_usd,
    case
        when reported_cost_usd is not null then 'caller'
        when has_list_price then 'list_price'
        -- A call that used no tokens (a failed call, often with no model named) costs nothing
        -- at any price: counted, but no missing price to report.
        when input_tokens = 0 and output_tokens = 0 then 'no_usage'
        else 'unpriced'
    end as estimate_source,
    reported_cost_usd is not null or has_list_price or (input_tokens = 0 and output_tokens = 0) as is_priced,
    price_model_id,
    price_data_version,
    tags,
    source_folder,
    source_file,
    source_line,
    load_id
from costed
