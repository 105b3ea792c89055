with source as (

    select * from {{ source('config', 'workspaces') }}

),

renamed as (

    select
        provider,
        project_id,
        workspace,
        source_line

    from source

)

select * from renamed
