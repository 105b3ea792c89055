{#-
  Each (feature, prompt_version) against the version the feature used before it (the one
  first seen just earlier). Calls without a prompt_version are not a version and are left
  out; money rows of unattributed bills have none. Flags (doc: prompt_version_rule) are
  decided on exact integer / decimal cross-products, not on rounded fractions.
-#}
with versions as (

    select
        feature,
        prompt_version,
        min(first_started_at) as first_seen,
        max(hour) as last_seen_hour,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(labelled_requests) as labelled_requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('int_spend_hourly') }}
    where prompt_version is not null
    group by feature, prompt_version
    having sum(api_calls) > 0

),

sequenced as (

    select
        versions.*,
        lag(prompt_version) over (partition by feature order by first_seen, prompt_version) as previous_version,
        lag(api_calls) over (partition by feature order by first_seen, prompt_version) as previous_api_calls,
        lag(input_tokens + output_tokens)
            over (partition by feature order by first_seen, prompt_version)
            as previous_tokens,
        lag(successful_requests)
            over (partition by feature order by first_seen, prompt_version)
            as previous_successful_requests,
        lag(labelled_requests)
            over (partition by feature order by first_seen, prompt_version)
            as previous_labelled_requests
    from versions

),

judged as (

    select
        sequenced.*,
        -- tokens/call > previous tokens/call * (1 + pct)
        coalesce(
            cast(input_tokens + output_tokens as decimal(38, 6)) * previous_api_calls
            > cast(previous_tokens as decimal(38, 6)) * api_calls
            * cast(1 + {{ var('token_inflation_pct') }} as decimal(9, 6)),
            false
        ) as tokens_rose,
        -- success rate now - before >= gain points; unknown when either side has no labels
        case
            when labelled_requests > 0 and previous_labelled_requests > 0 then
                cast(successful_requests as decimal(38, 6)) * previous_labelled_requests
                - cast(previous_successful_requests as decimal(38, 6)) * labelled_requests
                >= cast({{ var('success_gain_points') }} as decimal(9, 6))
                * labelled_requests
                * previous_labelled_requests
        end as success_gained
    from sequenced

)

select
    feature,
    prompt_version,
    first_seen,
    last_seen_hour,
    previous_version,
    api_calls,
    requests,
    successful_requests,
    labelled_requests,
    input_tokens,
    output_tokens,
    cost_usd,
    {{ costline_fraction('input_tokens', 'api_calls') }} as avg_input_tokens,
    {{ costline_fraction('output_tokens', 'api_calls') }} as avg_output_tokens,
    {{ costline_fraction('input_tokens + output_tokens', 'api_calls') }} as avg_tokens_per_call,
    {{ costline_money_ratio('cost_usd', 'requests') }} as avg_cost_per_request_usd,
    {{ costline_fraction('successful_requests', 'labelled_requests') }} as success_rate,
    {{ costline_fraction('previous_successful_requests', 'previous_labelled_requests') }} as previous_success_rate,
    {{ costline_fraction('previous_tokens', 'previous_api_calls') }} as previous_avg_tokens_per_call,
    {{ costline_fraction(
        'cast(input_tokens + output_tokens as decimal(38, 6)) * previous_api_calls - cast(previous_tokens as decimal(38, 6)) * api_calls',
        'cast(previous_tokens as decimal(38, 6)) * api_calls') }} as token_change_pct,
    success_gained,
    -- Without a measurable gain (none, or no labels on either side) a token rise is flagged.
    previous_version is not null and tokens_rose and not coalesce(success_gained, false) as flagged
from judged
