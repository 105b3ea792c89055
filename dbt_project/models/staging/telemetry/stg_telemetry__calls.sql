with source as (

    select * from {{ source('telemetry', 'calls') }}

),

renamed as (

    select
        call_id,
        request_id,
        attempt,
        started_at,
        cast(started_at as date) as day,
        {{ dbt.date_trunc('hour', 'started_at') }} as hour,
        {{ costline_month_label('started_at') }} as month,
        duration_ms,
        provider,
        model,
        operation,
        input_tokens,
        output_tokens,
        cache_read_input_tokens,
        cache_creation_input_tokens,
        reasoning_output_tokens,
        status,
        error_type,
        service_tier,
        workspace,
        feature,
        environment,
        user_segment,
        prompt_version,
        project_id,
        -- The caller's own figure, kept apart from costline's estimate so the two are never confused.
        cost_usd as reported_cost_usd,
        tags,
        source_folder,
        source_file,
        source_line,
        load_id,
        loaded_at

    from source

)

select * from renamed
