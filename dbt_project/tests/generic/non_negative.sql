{#- Money and counts that can only grow from zero: a negative value means a sign or join bug
    (or a credit line the model does not handle yet). Nulls are not this test's business. -#}
{% test non_negative(model, column_name) %}
select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < 0
{% endtest %}
