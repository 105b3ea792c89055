{#- The grain of a table: no two rows share these columns (nulls compared as values). A name
    with capitals (focus_costs' FOCUS names) is quoted: it is case-sensitive outside DuckDB. -#}
{% test unique_combination(model, columns) %}
{%- set quoted = [] -%}
{%- for column in columns -%}
    {%- do quoted.append(adapter.quote(column) if column != column | lower else column) -%}
{%- endfor -%}
select {{ quoted | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ quoted | join(', ') }}
having count(*) > 1
{% endtest %}
