{#- Aggregates that roll a finer grain up to a coarser one, and the casts that pin the
    published types: one list of measures per model instead of the same name written four
    times. -#}

{% macro costline_sum_columns(columns) -%}
    {%- for column in columns %}
        sum({{ column }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro costline_cast_columns(columns, data_type) -%}
    {%- for column in columns %}
    cast({{ column }} as {{ data_type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro costline_cast_sums(columns, data_type) -%}
    {%- for column in columns %}
    cast(sum({{ column }}) as {{ data_type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
