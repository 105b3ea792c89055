{#- Fractions (0.25 = 25 %) that must stay in [min_value, max_value]; nulls allowed. -#}
{% test fraction_between(model, column_name, min_value=0, max_value=1) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
