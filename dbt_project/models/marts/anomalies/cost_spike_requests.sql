{#-
  What a cost spike was spent on: for each cost_spike hour of cost_anomalies, the
  workspace's top cost_spike_top_requests request chains of that hour by cost (ties by
  request_id). A chain is the calls sharing a request_id (retries and agent steps of one
  request); only its calls in the spike hour count, so calls and cost_usd add up to part of
  the hour's observed cost. feature and model are those carrying most of the chain's cost in
  the hour (ties by name).
-#}
with spikes as (

    select detected_at, day, workspace
    from {{ ref('int_cost_spikes_detected') }}

),

calls as (

    select
        calls.hour,
        calls.workspace,
        calls.request_id,
        calls.feature,
        calls.model,
        calls.started_at,
        calls.cost_usd
    from {{ ref('int_calls_attributed') }} as calls
    inner join spikes
        on spikes.detected_at = calls.hour
            and spikes.workspace = calls.workspace

),

chains as (

    select
        hour,
        workspace,
        request_id,
        count(*) as calls,
        sum(cost_usd) as cost_usd,
        min(started_at) as first_started_at,
        max(started_at) as last_started_at
    from calls
    group by hour, workspace, request_id

),

ranked_chains as (

    select
        chains.*,
        row_number() over (
            partition by hour, workspace order by cost_usd desc, request_id asc
        ) as request_rank
    from chains

),

top_chains as (

    select *
    from ranked_chains
    where request_rank <= {{ var('cost_spike_top_requests') | int }}

),

chain_parts as (

    select
        calls.hour,
        calls.workspace,
        calls.request_id,
        calls.feature,
        calls.model,
        row_number() over (
            partition by calls.hour, calls.workspace, calls.request_id
            order by sum(calls.cost_usd) desc, calls.feature asc, calls.model asc
        ) as part_rank
    from calls
    inner join top_chains
        on top_chains.hour = calls.hour
            and top_chains.workspace = calls.workspace
            and top_chains.request_id = calls.request_id
    group by calls.hour, calls.workspace, calls.request_id, calls.feature, calls.model

)

select
    cast(spikes.detected_at as {{ dbt.type_timestamp() }}) as detected_at,
    cast(spikes.day as date) as day,
    cast({{ costline_month_label('spikes.day') }} as {{ dbt.type_string() }}) as month,
    cast(spikes.workspace as {{ dbt.type_string() }}) as workspace,
    cast(top_chains.request_rank as {{ dbt.type_int() }}) as request_rank,
    cast(top_chains.request_id as {{ dbt.type_string() }}) as request_id,
    cast(chain_parts.feature as {{ dbt.type_string() }}) as feature,
    cast(chain_parts.model as {{ dbt.type_string() }}) as model,
    cast(top_chains.calls as bigint) as calls,
    cast(top_chains.cost_usd as decimal(18, 6)) as cost_usd,
    cast(top_chains.first_started_at as {{ dbt.type_timestamp() }}) as first_started_at,
    cast(top_chains.last_started_at as {{ dbt.type_timestamp() }}) as last_started_at
from spikes
inner join top_chains
    on top_chains.hour = spikes.detected_at
        and top_chains.workspace = spikes.workspace
inner join chain_parts
    on chain_parts.hour = top_chains.hour
        and chain_parts.workspace = top_chains.workspace
        and chain_parts.request_id = top_chains.request_id
        and chain_parts.part_rank = 1
