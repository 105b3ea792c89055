{#-
  The run window: days costline_start_day / costline_end_day (inclusive, 'YYYY-MM-DD').
  Absent means every day. Incremental models delete the window's days and insert them again;
  the predicates below are what they filter their inputs with. Bounds are rendered as
  literals so the planner can prune row groups by min/max before reading any data.

  Where the window comes from: a dbt var of that name (`--vars`, for a hand-run build), else
  the environment variables COSTLINE_RUN_START_DAY / COSTLINE_RUN_END_DAY (what costline's
  orchestrator sets). The environment is read only while executing, never while parsing: dbt
  re-parses the whole project when --vars or an env var seen during parsing changes, and a
  full parse costs ~8 s more than a partial one on every daily run.
-#}

{% macro costline_window_bound(name, default) -%}
    {%- set value = var(name, none) -%}
    {%- if (value is none or (value | string | trim) == '') and execute -%}
        {%- set value = env_var('COSTLINE_RUN_' ~ (name | replace('costline_', '') | upper), '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("run window bound " ~ name ~ " must be a day 'YYYY-MM-DD', got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}

{% macro costline_has_window() -%}
    {{ return(costline_window_bound('costline_start_day', none) is not none
              or costline_window_bound('costline_end_day', none) is not none) }}
{%- endmacro %}

{#- Shift an ISO day by whole days; the open-ended defaults are never shifted (year 1900 and
    9999 mean "no bound"). -#}
{% macro costline_shift_day(iso_day, days) -%}
    {%- if days == 0 or iso_day in ('1900-01-01', '9999-12-31') -%}
        {{ return(iso_day) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(iso_day) -%}
    {{ return((parsed + modules.datetime.timedelta(days=days)).isoformat()) }}
{%- endmacro %}

{% macro costline_start_day(offset_days=0) -%}
    {%- set start = costline_window_bound('costline_start_day', '1900-01-01') -%}
    {%- set end = costline_window_bound('costline_end_day', '9999-12-31') -%}
    {%- if start > end -%}
        {{ exceptions.raise_compiler_error("costline_start_day " ~ start ~ " is after costline_end_day " ~ end) }}
    {%- endif -%}
    {{ return(costline_shift_day(start, offset_days)) }}
{%- endmacro %}

{% macro costline_end_day(offset_days=0) -%}
    {%- set end = costline_window_bound('costline_end_day', '9999-12-31') -%}
    {{ return(costline_shift_day(end, offset_days)) }}
{%- endmacro %}

{% macro costline_date_literal(iso_day) -%}
    cast('{{ iso_day }}' as date)
{%- endmacro %}

{% macro costline_timestamp_literal(iso_day) -%}
    cast('{{ iso_day }} 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- `incremental` is passed in from the model (is_incremental() called there, so unit-test
    overrides of is_incremental reach it). A first build or a full refresh reads every day. -#}
{% macro day_in_window(column, incremental, days_before=0, days_after=0) -%}
    {%- if incremental -%}
        {{ column }} between {{ costline_date_literal(costline_start_day(-days_before)) }}
            and {{ costline_date_literal(costline_end_day(days_after)) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Same window on a raw timestamp, so the scan filters the stored column directly
    (a filter on a derived day would not prune). -#}
{% macro started_in_window(column, incremental, days_before=0, days_after=0) -%}
    {%- if incremental -%}
        {%- set end_day = costline_end_day(days_after) -%}
        {{ column }} >= {{ costline_timestamp_literal(costline_start_day(-days_before)) }}
        {%- if end_day != '9999-12-31' %}
            and {{ column }} < {{ costline_timestamp_literal(costline_shift_day(end_day, 1)) }}
        {%- endif -%}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Earlier days whose requests a late outcome or a retry after midnight re-opened
    (int_requests_reopened, built just before). Read at run time so the day filter is a list
    of literals the planner can prune with. -#}
{% macro costline_reopened_days() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query("select distinct cast(previous_day as " ~ dbt.type_string() ~ ") from " ~ ref('int_requests_reopened') ~ " order by 1") -%}
    {{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{#- Days an aggregate rebuilds: the window plus the re-opened days. Models using it declare
    `-- depends_on: {{ ref('int_requests_reopened') }}` because this ref sits behind a branch. -#}
{% macro day_in_rebuild_set(column, incremental) -%}
    {%- if incremental -%}
        {%- set reopened = costline_reopened_days() -%}
        ({{ day_in_window(column, true) }}
        {%- for day in reopened %}
            or {{ column }} = {{ costline_date_literal(day) }}
        {%- endfor -%})
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of every incremental model: empty the days about to be inserted again. Deleting
    by the window (not by the days present in the new rows) also empties a day whose rows all
    disappeared upstream. -#}
{% macro costline_delete_window(column='day', include_reopened=false) -%}
    {{ return(adapter.dispatch('costline_delete_window', 'costline')(column, include_reopened)) }}
{%- endmacro %}
{% macro default__costline_delete_window(column='day', include_reopened=false) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where
        {%- if include_reopened %} {{ day_in_rebuild_set(column, true) }}
        {%- else %} {{ day_in_window(column, true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- int_requests_resolved's pre-hook: the window's days, plus the re-opened requests by id
    (only on their own days, so the delete never probes the whole history). -#}
{% macro costline_delete_requests_window() -%}
    {{ return(adapter.dispatch('costline_delete_requests_window', 'costline')()) }}
{%- endmacro %}
{% macro default__costline_delete_requests_window() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ day_in_window('day', true) }}
        {%- for day in costline_reopened_days() %}
            or (day = {{ costline_date_literal(day) }}
                and request_id in (select request_id from {{ ref('int_requests_reopened') }}))
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#-
  Spark: Parquet tables have no DELETE. The incremental day-grain models are partitioned by
  day there (config partition_by=costline_partition_by('day'); nothing on DuckDB and
  Postgres), and the window's days are dropped as whole partitions. Only partitions that
  exist are named, so an open-ended window is the days the table has.
-#}
{% macro costline_partition_by(column) -%}
    {{ return(column if target.type == 'spark' else none) }}
{%- endmacro %}

{% macro costline_spark_drop_days_sql(column, predicate) -%}
    {%- if config.get('partition_by') != column -%}
        {{ exceptions.raise_compiler_error(this ~ " must be partitioned by " ~ column ~ " on Spark: add partition_by=costline_partition_by('" ~ column ~ "') to its config") }}
    {%- endif -%}
    {%- set days = run_query("select distinct cast(" ~ column ~ " as string) from " ~ this ~ " where " ~ predicate ~ " order by 1").columns[0].values() -%}
    {%- if days | length > 0 -%}
        alter table {{ this }} drop if exists
        {%- for day in days %} partition ({{ column }} = '{{ day }}'){{ "," if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}

{% macro spark__costline_delete_window(column='day', include_reopened=false) -%}
    {%- if is_incremental() -%}
        {{ costline_spark_drop_days_sql(column,
            day_in_rebuild_set(column, true) if include_reopened else day_in_window(column, true)) }}
    {%- endif -%}
{%- endmacro %}

{#- int_requests_resolved on Spark: a re-opened request's day also holds requests this run
    does not rebuild. Copy-on-write of those day partitions: the rows to keep are written to
    a side table, the days dropped, the kept rows put back; the model then appends the
    rebuilt requests. Not atomic: a run stopped between the drop and the put-back leaves the
    side table, and the next run refuses to start until it is put back (docs/SPARK.md). -#}
{% macro spark__costline_delete_requests_window() -%}
    {%- if is_incremental() -%}
        {%- set kept = api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ '__kept', type='table') -%}
        {%- if adapter.get_relation(database=kept.database, schema=kept.schema, identifier=kept.identifier) is not none -%}
            {{ exceptions.raise_compiler_error(kept ~ " exists: an earlier run stopped while rewriting " ~ this
                ~ "'s re-opened days. Put the rows back (insert into " ~ this ~ " select * from " ~ kept
                ~ "; drop table " ~ kept ~ ") or run with --full-refresh. docs/SPARK.md") }}
        {%- endif -%}
        {%- set reopened_days = costline_reopened_days() -%}
        {%- set window = day_in_window('day', true) -%}
        {%- set outside_window = [] -%}
        {%- for day in reopened_days -%}
            {%- if not (costline_start_day() <= day <= costline_end_day()) -%}
                {%- do outside_window.append(day) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if outside_window -%}
            {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='quoted') | join(', ') -%}
            {%- set day_list -%}
                {%- for day in outside_window %}{{ costline_date_literal(day) }}{{ ", " if not loop.last }}{% endfor -%}
            {%- endset -%}
            {%- do run_query("create table " ~ kept ~ " using parquet as select " ~ columns ~ " from " ~ this
                ~ " where day in (" ~ day_list ~ ") and request_id not in (select request_id from "
                ~ ref('int_requests_reopened') ~ " where request_id is not null)") -%}
            {%- set drop_sql = costline_spark_drop_days_sql('day', window ~ " or day in (" ~ day_list ~ ")") -%}
            {%- if drop_sql | trim -%}
                {%- do run_query(drop_sql) -%}
            {%- endif -%}
            {%- do run_query("insert into table " ~ this ~ " select " ~ columns ~ " from " ~ kept) -%}
            {%- do run_query("drop table " ~ kept) -%}
        {%- else -%}
            {{ costline_spark_drop_days_sql('day', window) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- `column` within the run window, for data tests: singular tests call these directly; generic
    tests say `where: "costline_in_run_window(day)"` (a DATE column) or
    `where: "costline_started_in_run_window(started_at)"` (a TIMESTAMP column), and
    get_where_subquery below expands them when the test runs: a `where` with Jinja in it
    would be rendered once, at parse time, before the window is known. -#}
{% macro costline_in_run_window(column) -%}
    {{ column }} between {{ costline_date_literal(costline_start_day()) }}
        and {{ costline_date_literal(costline_end_day()) }}
{%- endmacro %}

{% macro costline_started_in_run_window(column) -%}
    {{ started_in_window(column, true) }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {#- A column name with capitals (focus_costs' FOCUS names) is quoted for the adapter:
            it is case-sensitive outside DuckDB. -#}
        {%- set state = namespace(where=where) -%}
        {%- for name in modules.re.findall('in_run_window\\(\\s*([A-Za-z_]\\w*)\\s*\\)', where) | unique -%}
            {%- if name != name | lower -%}
                {%- set state.where = modules.re.sub('(in_run_window\\(\\s*)' ~ name ~ '(\\s*\\))',
                                                     '\\g<1>' ~ adapter.quote(name) ~ '\\g<2>', state.where) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set where = modules.re.sub('costline_in_run_window\\(\\s*([\\w."`]+)\\s*\\)',
                                       costline_in_run_window('\\1'), state.where) -%}
        {%- set where = modules.re.sub('costline_started_in_run_window\\(\\s*([\\w."`]+)\\s*\\)',
                                       costline_started_in_run_window('\\1'), where) -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
