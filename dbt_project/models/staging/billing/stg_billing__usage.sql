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
        fetched_at

    from source

)

select * from renamed
