with source as (

    select * from {{ source('billing', 'usage') }}

),

renamed as (

    select
        provider,
        bucket_day as day,
        scope_id,
        coalesce(scope_id, '(no scope)') as scope_key,
        model,
        api_key_id,
        requests,
        input_tokens,
        output_tokens,
        cache_read_input_tokens,
        cache_creation_input_tokens,
        source_page,
        fetched_at,
        -- The provider's own names (OpenAI `default` is the standard tier; seed
        -- service_tier_names maps them); null where the usage API does not split by it.
        lower(service_tier) as service_tier,
        context_window,
        inference_geo

    from source

)

select * from renamed
