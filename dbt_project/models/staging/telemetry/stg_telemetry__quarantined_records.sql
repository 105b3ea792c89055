with source as (

    select * from {{ source('telemetry', 'quarantine') }}

),

renamed as (

    select
        input,
        source_folder,
        source_file,
        source_line,
        record_key,
        reason,
        load_id,
        loaded_at

    from source

)

select * from renamed
