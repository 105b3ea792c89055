with source as (

    select * from {{ source('telemetry', 'outcomes') }}

),

renamed as (

    select
        request_id,
        recorded_at,
        cast(recorded_at as date) as recorded_day,
        lower(trim(kind)) as kind,
        lower(trim(value)) as value,
        -- Eval scores arrive as text; anything that is not a number stays null (not a crash).
        case
            when lower(trim(kind)) = 'eval'
                then {{ dbt.safe_cast('trim(value)', costline_type_double()) }}
        end as eval_score,
        source,
        -- Dollars the outcome was worth (a resolution's value_usd, a revenue record's amount).
        value_usd,
        source_folder,
        source_file,
        source_line,
        load_id,
        loaded_at

    from source

)

select * from renamed
