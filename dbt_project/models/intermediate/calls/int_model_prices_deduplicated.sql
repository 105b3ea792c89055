{#-
  One price per (provider, model, service tier) at any instant. A price re-loaded for the same start keeps
  its latest load; a range that runs past the next price's start is cut there, so a call can
  never match two prices and be counted twice.
-#}
with prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

latest_load as (

    select
        prices.*,
        row_number() over (
            partition by provider, model, service_tier, effective_from
            order by loaded_at desc, price_data_version desc
        ) as load_rank
    from prices

),

next_start as (

    select
        latest_load.*,
        lead(effective_from) over (
            partition by provider, model, service_tier order by effective_from
        ) as next_effective_from
    from latest_load
    where load_rank = 1

)

select
    provider,
    model,
    service_tier,
    price_model_id,
    effective_from,
    case
        when next_effective_from is not null and next_effective_from < effective_to
            then next_effective_from
        else effective_to
    end as effective_to,
    effective_to as listed_effective_to,
    input_mtok,
    output_mtok,
    cache_read_mtok,
    cache_write_mtok,
    reasoning_mtok,
    long_context_threshold,
    input_mtok_long,
    output_mtok_long,
    cache_read_mtok_long,
    cache_write_mtok_long,
    price_data_version,
    loaded_at
from next_start
