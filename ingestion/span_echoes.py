"""Two spans of one provider call count once: the echo takes the winner's record.

When two layers trace the same call (the Anthropic SDK's own span beside Traceloop's, the
openai-v2 instrumentation beside OpenInference's) a file holds two call spans for one call.
They are the same call when, in one file:

- they carry the same `gen_ai.response.id` (the provider's id of the answer), or
- one is the parent of the other (a call span never wraps a different call: agent, tool and
  workflow spans are not call spans), or
- they are siblings in one trace from different instrumentation scopes, naming the same model,
  and their times overlap (one library never traces one call twice, so two spans of one
  scope are two calls, however alike), or
- they come from one process (same `service.name`, `service.instance.id`, `host.name`) and
  different scopes, in different traces (the Anthropic SDK's span and Traceloop's are two root
  spans), overlap in time and agree on the model, the status and both token counts: two
  libraries on one client trace every call, and two different calls agreeing on all of that
  at the same moment is the rare case costline accepts to undercount.

Of each such group the span of the highest-ranked dialect wins (`otel_dialects.Dialect.rank`:
the one that reads the most of the call), then the first in the file. Every other span of the
group is given the winner's record (completed with the fields it lacks from its best echo), so the loader's call_id dedup counts it as a duplicate of
the winner (never a `duplicate_conflict`), and the ledger still balances: read = accepted +
quarantined + duplicates. Set-based: three equi-joins over the file's spans, never a pair
loop. Spans of one call written to different files are not matched (their response ids, when
present, still dedup as before).
"""

# `_cl_spans`: one row per flattened call span (rid, line, rank, span facts).
ECHO_WINNERS_SQL = """
with spans as (
    select *, row_number() over (order by _rank desc, rid) as preference
    from _cl_spans where line is not null
),
pairs as (
    select a.rid as echo, b.rid as other from spans a join spans b
        on a._response_id = b._response_id and a.rid <> b.rid
    union all
    select a.rid, b.rid from spans a join spans b
        on a._trace_id = b._trace_id and a._parent_span_id = b._span_id
    union all
    select b.rid, a.rid from spans a join spans b
        on a._trace_id = b._trace_id and a._parent_span_id = b._span_id
    union all
    select a.rid, b.rid from spans a join spans b
        on a._trace_id = b._trace_id and a._model_key = b._model_key
    where a._model_key <> '' and a._scope <> b._scope and a._start_ns < b._end_ns and b._start_ns < a._end_ns
    union all
    select a.rid, b.rid from spans a join spans b
        on a._service = b._service and a._twin_key = b._twin_key
    where a._model_key <> '' and a._scope <> b._scope and a._start_ns < b._end_ns and b._start_ns < a._end_ns
),
winners as (
    select p.echo, w.rid as winner
    from pairs p
    join spans e on e.rid = p.echo
    join spans w on w.rid = p.other
    where w.preference < e.preference
    qualify row_number() over (partition by p.echo order by w.preference) = 1
),
-- Two steps resolve a chain of three layers (C inside B inside A: C -> B -> A).
resolved as (
    select w1.echo, coalesce(w2.winner, w1.winner) as winner
    from winners w1 left join winners w2 on w2.echo = w1.winner
),
-- The winner keeps its own values and takes what it lacks from its best echo (openai-v2
-- writes no cached or reasoning tokens on chat completions; OpenInference's child span does).
merged as (
    select r.winner, json_merge_patch(e.line, w.line)::varchar as line
    from resolved r
    join spans e on e.rid = r.echo
    join spans w on w.rid = r.winner
    qualify row_number() over (partition by r.winner order by e.preference) = 1
)
select s.source_line, s.sub_seq, coalesce(m.line, s.line) as line, s.pre_reason
from _cl_spans s
left join resolved r on r.echo = s.rid
left join merged m on m.winner = coalesce(r.winner, s.rid)
order by s.rid
"""
