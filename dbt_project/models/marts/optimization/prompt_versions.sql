select
    cast(feature as {{ dbt.type_string() }}) as feature,
    cast(prompt_version as {{ dbt.type_string() }}) as prompt_version,
    cast(first_seen as {{ dbt.type_timestamp() }}) as first_seen,
    cast(previous_version as {{ dbt.type_string() }}) as previous_version,
    cast(api_calls as bigint) as api_calls,
    cast(requests as bigint) as requests,
    cast(successful_requests as bigint) as successful_requests,
    cast(labelled_requests as bigint) as labelled_requests,
    cast(avg_input_tokens as {{ costline_type_double() }}) as avg_input_tokens,
    cast(avg_output_tokens as {{ costline_type_double() }}) as avg_output_tokens,
    cast(avg_tokens_per_call as {{ costline_type_double() }}) as avg_tokens_per_call,
    cast(cost_usd as decimal(18, 6)) as cost_usd,
    cast(avg_cost_per_request_usd as decimal(18, 6)) as avg_cost_per_request_usd,
    cast(success_rate as {{ costline_type_double() }}) as success_rate,
    cast(token_change_pct as {{ costline_type_double() }}) as token_change_pct,
    cast(flagged as boolean) as flagged
from {{ ref('int_prompt_versions_compared') }}
