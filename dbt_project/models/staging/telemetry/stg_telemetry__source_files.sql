with source as (

    select * from {{ source('telemetry', 'source_files') }}

),

renamed as (

    select
        input,
        source_folder,
        source_file,
        file_format,
        file_bytes,
        records_read,
        accepted,
        quarantined,
        duplicates,
        min_event_day,
        max_event_day,
        load_id,
        loaded_at

    from source

)

select * from renamed
