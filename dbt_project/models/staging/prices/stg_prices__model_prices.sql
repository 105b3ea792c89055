with source as (

    select * from {{ source('prices', 'model_prices') }}

),

renamed as (

    select
        provider,
        model,
        -- Rows loaded before tiers were: the standard price.
        coalesce(service_tier, 'standard') as service_tier,
        price_model_id,
        effective_from,
        effective_to,
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

    from source

)

select * from renamed
