with monthly as (

    select
        month,
        feature,
        model,
        sum(api_calls) as api_calls,
        sum(requests) as requests,
        sum(successful_requests) as successful_requests,
        sum(labelled_requests) as labelled_requests,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('daily_spend') }}
    where feature <> '(unattributed)'
    group by month, feature, model

),

alternatives as (

    -- Cheaper per success and at most cheaper_alternative_max_success_drop less successful,
    -- compared on exact cross-products. Only models with successes and labels compete.
    select
        this.month,
        this.feature,
        this.model,
        alternative.model as alternative_model,
        alternative.cost_usd as alternative_cost_usd,
        alternative.successful_requests as alternative_successful_requests,
        row_number() over (
            partition by this.month, this.feature, this.model
            order by
                {{ costline_fraction('alternative.cost_usd', 'alternative.successful_requests') }},
                alternative.model
        ) as alternative_rank
    from monthly as this
    inner join monthly as alternative
        on alternative.month = this.month
            and alternative.feature = this.feature
            and alternative.model <> this.model
    where this.successful_requests > 0
        and alternative.successful_requests > 0
        and this.labelled_requests > 0
        and alternative.labelled_requests > 0
        and alternative.cost_usd * this.successful_requests < this.cost_usd * alternative.successful_requests
        and cast(alternative.successful_requests as decimal(38, 6)) * this.labelled_requests
        - cast(this.successful_requests as decimal(38, 6)) * alternative.labelled_requests
        >= -1 * cast({{ var('cheaper_alternative_max_success_drop') }} as decimal(9, 6))
        * this.labelled_requests * alternative.labelled_requests

),

best as (

    select * from alternatives
    where alternative_rank = 1

)

select
    cast(monthly.month as {{ dbt.type_string() }}) as month,
    cast(monthly.feature as {{ dbt.type_string() }}) as feature,
    cast(monthly.model as {{ dbt.type_string() }}) as model,
    cast(monthly.api_calls as bigint) as api_calls,
    cast(monthly.requests as bigint) as requests,
    cast(monthly.successful_requests as bigint) as successful_requests,
    cast(monthly.labelled_requests as bigint) as labelled_requests,
    cast(monthly.input_tokens + monthly.output_tokens as bigint) as tokens,
    cast(monthly.cost_usd as decimal(18, 6)) as cost_usd,
    {{ costline_money_ratio('monthly.cost_usd * 1000', 'monthly.input_tokens + monthly.output_tokens') }}
        as cost_per_1k_tokens_usd,
    {{ costline_money_ratio('monthly.cost_usd', 'monthly.requests') }} as avg_cost_per_request_usd,
    {{ costline_fraction('monthly.successful_requests', 'monthly.labelled_requests') }} as success_rate,
    {{ costline_money_ratio('monthly.cost_usd', 'monthly.successful_requests') }} as cost_per_success_usd,
    cast(best.alternative_model as {{ dbt.type_string() }}) as cheaper_alternative,
    {{ costline_money_ratio('best.alternative_cost_usd', 'best.alternative_successful_requests') }}
        as alternative_cost_per_success_usd,
    -- (this cost per success - the alternative's) x this model's successes, rounded once.
    coalesce(
        {{ costline_money_ratio(
            'monthly.cost_usd * best.alternative_successful_requests - best.alternative_cost_usd * monthly.successful_requests',
            'best.alternative_successful_requests') }},
        cast(0 as decimal(18, 6))
    ) as potential_savings_usd
from monthly
left join best
    on best.month = monthly.month
        and best.feature = monthly.feature
        and best.model = monthly.model
