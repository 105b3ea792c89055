{#-
  The one exact allocator (doc: attributed_cost_rule): spread whole micro-dollars over the
  members of each group in proportion to their weights, so every group sums to its amount to
  the micro-dollar. int_calls_attributed spreads usage bill lines with it,
  int_billing_credits_allocated credit lines.

  `shares` is a relation (a CTE) with one row per member and group: the `group_keys`, the
  `member_key`, `amount_micros` (the group's amount, on every row), `weight` and
  `weight_total` (the group's, > 0). Each member gets floor(amount x weight / total); the
  micro-dollars flooring left over go one each to the members with the largest remainders
  (ties by member_key). Floor division keeps it exact for a negative amount (a credit) too:
  remainders and the leftover are then still >= 0.

  Renders CTEs ending in `name`: group_keys, member_key, allocated_micros.
-#}
{% macro costline_largest_remainder(shares, group_keys, member_key, name) -%}
{{ name }}_floored as (

    select
        {{ shares }}.*,
        {{ costline_floor_div('amount_micros * weight', 'weight_total') }} as floor_micros
    from {{ shares }}

),

{{ name }}_remainders as (

    select
        {{ name }}_floored.*,
        amount_micros * weight - floor_micros * weight_total as remainder
    from {{ name }}_floored

),

{{ name }}_leftovers as (

    select
        {%- for key in group_keys %}
        {{ key }},
        {%- endfor %}
        max(amount_micros) - sum(floor_micros) as leftover_micros
    from {{ name }}_remainders
    group by {{ group_keys | join(', ') }}

),

{{ name }}_ranked as (

    select
        remainders.{{ member_key }},
        {%- for key in group_keys %}
        remainders.{{ key }},
        {%- endfor %}
        remainders.floor_micros,
        leftovers.leftover_micros,
        row_number() over (
            partition by
                {%- for key in group_keys %}
                remainders.{{ key }}{% if not loop.last %},{% endif %}
                {%- endfor %}
            order by remainders.remainder desc, remainders.{{ member_key }} asc
        ) as remainder_rank
    from {{ name }}_remainders as remainders
    inner join {{ name }}_leftovers as leftovers
        on
        {%- for key in group_keys %}
            {% if not loop.first %}and {% endif %}leftovers.{{ key }} = remainders.{{ key }}
        {%- endfor %}

),

{{ name }} as (

    select
        {{ member_key }},
        {%- for key in group_keys %}
        {{ key }},
        {%- endfor %}
        floor_micros + case when remainder_rank <= leftover_micros then 1 else 0 end as allocated_micros
    from {{ name }}_ranked

)
{%- endmacro %}
