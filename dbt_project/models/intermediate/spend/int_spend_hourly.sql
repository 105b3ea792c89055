{{
    config(
        materialized='incremental',
        pre_hook="{{ costline_delete_window('day', include_reopened=true) }}"
    )
}}
{#-
  The aggregate every mart reads: per UTC hour, workspace, feature, provider, model and
  prompt version. Calls and cost count on their own hour; requests (and their outcomes) on
  the hour of their first attempt; billed money no call carries at 00:00 of its day under
  feature '(unattributed)'. Rebuilds the window's days and the re-opened days.
-#}
-- depends_on: {{ ref('int_requests_reopened') }}
{%- set incremental = is_incremental() %}

with calls as (

    select * from {{ ref('int_calls_attributed') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

requests as (

    select * from {{ ref('int_requests_resolved') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

unattributed as (

    select * from {{ ref('int_billing_costs_unattributed') }}
    where {{ day_in_rebuild_set('day', incremental) }}

),

call_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        count(*) as api_calls,
        sum(case when is_error then 1 else 0 end) as error_calls,
        sum(case when is_retry then 1 else 0 end) as retry_calls,
        sum(case when is_priced then 0 else 1 end) as unpriced_calls,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cache_read_input_tokens) as cache_read_input_tokens,
        sum(cache_creation_input_tokens) as cache_creation_input_tokens,
        sum(reasoning_output_tokens) as reasoning_output_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(cost_usd) as cost_usd,
        -- Retry cost: calls that were retries plus calls that failed.
        sum(case when is_retry or is_error then cost_usd else 0 end) as retry_cost_usd,
        sum(case when is_billed then cost_usd else 0 end) as billed_cost_usd,
        sum(cast(0 as decimal(18, 6))) as unattributed_cost_usd,
        0 as requests,
        0 as successful_requests,
        0 as failed_requests,
        0 as labelled_requests,
        min(started_at) as first_started_at
    from calls
    group by hour, day, workspace, feature, provider, model, prompt_version

),

request_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        prompt_version,
        0 as api_calls,
        0 as error_calls,
        0 as retry_calls,
        0 as unpriced_calls,
        0 as input_tokens,
        0 as output_tokens,
        0 as cache_read_input_tokens,
        0 as cache_creation_input_tokens,
        0 as reasoning_output_tokens,
        cast(0 as decimal(18, 6)) as estimated_cost_usd,
        cast(0 as decimal(18, 6)) as cost_usd,
        cast(0 as decimal(18, 6)) as retry_cost_usd,
        cast(0 as decimal(18, 6)) as billed_cost_usd,
        cast(0 as decimal(18, 6)) as unattributed_cost_usd,
        count(*) as requests,
        sum(case when is_success then 1 else 0 end) as successful_requests,
        sum(case when is_failure then 1 else 0 end) as failed_requests,
        sum(case when is_labelled then 1 else 0 end) as labelled_requests,
        cast(null as {{ dbt.type_timestamp() }}) as first_started_at
    from requests
    group by hour, day, workspace, feature, provider, model, prompt_version

),

unattributed_rows as (

    select
        hour,
        day,
        workspace,
        feature,
        provider,
        model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        0 as api_calls,
        0 as error_calls,
        0 as retry_calls,
        0 as unpriced_calls,
        0 as input_tokens,
        0 as output_tokens,
        0 as cache_read_input_tokens,
        0 as cache_creation_input_tokens,
        0 as reasoning_output_tokens,
        cast(0 as decimal(18, 6)) as estimated_cost_usd,
        sum(cost_usd) as cost_usd,
        cast(0 as decimal(18, 6)) as retry_cost_usd,
        sum(cost_usd) as billed_cost_usd,
        sum(cost_usd) as unattributed_cost_usd,
        0 as requests,
        0 as successful_requests,
        0 as failed_requests,
        0 as labelled_requests,
        cast(null as {{ dbt.type_timestamp() }}) as first_started_at
    from unattributed
    group by hour, day, workspace, feature, provider, model

),

unioned as (

    select * from call_rows
    union all
    select * from request_rows
    union all
    select * from unattributed_rows

)

select
    cast(hour as {{ dbt.type_timestamp() }}) as hour,
    day,
    {{ costline_month_label('day') }} as month,
    workspace,
    feature,
    provider,
    model,
    prompt_version,
    cast(sum(api_calls) as bigint) as api_calls,
    cast(sum(requests) as bigint) as requests,
    cast(sum(successful_requests) as bigint) as successful_requests,
    cast(sum(failed_requests) as bigint) as failed_requests,
    cast(sum(labelled_requests) as bigint) as labelled_requests,
    cast(sum(error_calls) as bigint) as error_calls,
    cast(sum(retry_calls) as bigint) as retry_calls,
    cast(sum(unpriced_calls) as bigint) as unpriced_calls,
    cast(sum(input_tokens) as bigint) as input_tokens,
    cast(sum(output_tokens) as bigint) as output_tokens,
    cast(sum(cache_read_input_tokens) as bigint) as cache_read_input_tokens,
    cast(sum(cache_creation_input_tokens) as bigint) as cache_creation_input_tokens,
    cast(sum(reasoning_output_tokens) as bigint) as reasoning_output_tokens,
    cast(sum(estimated_cost_usd) as decimal(18, 6)) as estimated_cost_usd,
    cast(sum(cost_usd) as decimal(18, 6)) as cost_usd,
    cast(sum(retry_cost_usd) as decimal(18, 6)) as retry_cost_usd,
    cast(sum(billed_cost_usd) as decimal(18, 6)) as billed_cost_usd,
    cast(sum(unattributed_cost_usd) as decimal(18, 6)) as unattributed_cost_usd,
    min(first_started_at) as first_started_at
from unioned
group by hour, day, workspace, feature, provider, model, prompt_version
