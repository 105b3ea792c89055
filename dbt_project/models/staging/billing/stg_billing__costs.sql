with source as (

    select * from {{ source('billing', 'costs') }}

),

renamed as (

    select
        provider,
        bucket_day as day,
        scope_id,
        -- A NULL scope (org level / default project) is a scope of its own; a sentinel key
        -- lets it join like any other instead of silently matching nothing.
        coalesce(scope_id, '(no scope)') as scope_key,
        model,
        line_item,
        amount_usd,
        source_page,
        fetched_at

    from source

)

select * from renamed
