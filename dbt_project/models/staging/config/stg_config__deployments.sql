with source as (

    select * from {{ source('config', 'deployments') }}

),

renamed as (

    select
        deployed_at,
        trim(scope) as scope,
        version,
        description,
        source_file,
        source_line

    from source

)

select * from renamed
