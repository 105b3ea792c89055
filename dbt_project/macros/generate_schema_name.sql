{#- Custom schemas are used as written (staging, intermediate, marts), not prefixed with the
    target schema: the warehouse has one reader population and the orchestrator, the quality
    gate and the publisher all address these schemas by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
