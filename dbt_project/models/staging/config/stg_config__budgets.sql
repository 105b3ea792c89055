with source as (

    select * from {{ source('config', 'budgets') }}

),

renamed as (

    select
        workspace,
        trim(month) as budget_month,
        trim(month) = '*' as applies_to_every_month,
        monthly_budget_usd,
        hard_limit,
        source_line

    from source

)

select * from renamed
