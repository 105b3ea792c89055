{#- A row-level rule written as a boolean SQL expression; failing rows are returned. -#}
{% test expression_holds(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
