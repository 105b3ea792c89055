{#- A row-level rule written as a boolean SQL expression; failing rows are returned. Usable on
    a model or a column (column_name is then just context for the reader). -#}
{% test expression_holds(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
