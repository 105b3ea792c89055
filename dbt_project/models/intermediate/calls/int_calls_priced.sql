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

with calls as (

    select * from {{ ref('stg_telemetry__calls') }}

),

prices as (

    select * from {{ ref('int_model_prices_deduplicated') }}

),

tiers as (

    select * from {{ ref('service_tier_multipliers') }}

),

matched as (

    select
        calls.*,
        prices.provider is not null as has_list_price,
        prices.price_model_id,
        prices.price_data_version,
        prices.input_mtok,
        prices.output_mtok,
        prices.cache_read_mtok,
        prices.cache_write_mtok,
        prices.reasoning_mtok,
        prices.long_context_threshold,
        prices.input_mtok_long,
        prices.output_mtok_long,
        prices.cache_read_mtok_long,
        prices.cache_write_mtok_long,
        coalesce(tiers.multiplier, 1) as service_tier_multiplier,
        coalesce(
            prices.long_context_threshold is not null
            and calls.input_tokens > prices.long_context_threshold,
            false
        ) as is_long_context
    from calls
    left join prices
        on prices.provider = calls.provider
            and prices.model = calls.model
            and calls.started_at >= prices.effective_from
            and calls.started_at < prices.effective_to
    left join tiers
        on tiers.provider = calls.provider
            and tiers.service_tier = calls.service_tier

),

rates as (

    select
        matched.*,
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
    from matched

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
    service_tier,
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
