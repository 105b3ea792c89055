"""DuckDB SQL expressions that read, type and quote JSON values: the building blocks the
readers (pass 1) and the rules (pass 2) are written in.

Each helper takes the SQL of a JSON-text value (`<field>_j`) and returns an expression; none
of them decides whether a record is valid, that is `ingestion/rules/`.
"""

from ingestion.fields import CONTENT_KEY_PREFIXES, CONTENT_KEYS, TAG_ALIAS_PREFIX

# Ints beyond 2**53 are not exact in a JSON double, so an integral float above it is refused.
MAX_EXACT_FLOAT_INT = 2**53
# A value quoted into a reason is cut here: a stray prompt in a wrong field cannot leak.
MAX_ECHO = 40

WS = "' ' || chr(9) || chr(10) || chr(13)"
BLANK_RE = r"'[ \t\r\n]*'"
OBJECT_START_RE = r"'^[ \t\r\n]*\{'"
INT_RE = r"'-?[0-9]+'"
NUMBER_RE = r"'-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?'"
RFC3339_RE = (
    r"'^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
    r"([Zz]|([+-])([0-9]{2}):([0-9]{2}))$'"
)


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_path(key: str) -> str:
    return sql_str('$."' + key + '"')


def echo(expr: str) -> str:
    """A value quoted into a reason: short, so a stray prompt in a wrong field cannot leak."""
    return f"(case when length({expr}) > {MAX_ECHO} then left({expr}, {MAX_ECHO}) || '...' else {expr} end)"


def json_kind(expr: str) -> str:
    """The JSON type of a value as words for a reason ('an object', 'a boolean', ...)."""
    return (
        f"(case json_type({expr}) when 'OBJECT' then 'an object' when 'ARRAY' then 'an array' "
        f"when 'BOOLEAN' then 'a boolean' when 'VARCHAR' then 'a string' "
        f"else 'a number' end)"
    )


def is_json_string(j: str) -> str:
    return f"starts_with({j}, '\"')"


def text_value(j: str) -> str:
    """A text field: a JSON string (stored as sent; all-blank means absent) or an integer as text."""
    # Without a backslash the JSON string is its text between the quotes: a slice is a third
    # cheaper than unescaping.
    text = (
        f"(case when {is_json_string(j)} and not contains({j}, chr(92)) then {j}[2:-2] "
        f"when {is_json_string(j)} then {j} ->> '$' "
        f"when regexp_full_match({j}, {INT_RE}) then {j}::varchar end)"
    )
    # The first character settles most values without the regex (a tenth of the check pass).
    return (
        f"(case when ascii({text}) not in (0, 9, 10, 13, 32) then {text} "
        f"when not regexp_full_match({text}, {BLANK_RE}) then {text} end)"
    )


def text_bad(j: str) -> str:
    return f"({j} is not null and not ({is_json_string(j)} or regexp_full_match({j}, {INT_RE})))"


def is_json_number(j: str) -> str:
    # Not try_cast alone: it reads the JSON literal `true` as 1.
    return f"regexp_full_match({j}, {NUMBER_RE})"


def integer_value(j: str) -> str:
    """A JSON integer, or an integral float exactly representable as one (12.0, 1e3)."""
    d = f"try_cast({j} as double)"
    return (
        f"(case when regexp_full_match({j}, {INT_RE}) then try_cast({j} as bigint) "
        f"when {is_json_number(j)} and isfinite({d}) and {d} = floor({d}) "
        f"and abs({d}) <= {MAX_EXACT_FLOAT_INT} then {d}::bigint end)"
    )


def number_value(j: str) -> str:
    return f"(case when {is_json_number(j)} then try_cast({j} as double) end)"


def money_value(j: str) -> str:
    """Exact dollars from a JSON number or a decimal string (strings stay exact at any size;
    a number is as exact as the 15-16 digits a JSON parser keeps)."""
    return (
        f"try_cast(trim(case when {is_json_string(j)} then {j} ->> '$' "
        f"when {is_json_number(j)} then {j}::varchar end, {WS}) as decimal(18, 6))"
    )


def timestamp_parts(j: str) -> str:
    return (
        f"regexp_extract(case when {is_json_string(j)} then {j} ->> '$' end, {RFC3339_RE}, "
        f"['d', 't', 'f', 'z', 's', 'hh', 'mm'])"
    )


def timestamp_utc(parts: str) -> str:
    """RFC 3339 text to naive UTC without a time-zone library: local time minus the offset."""
    local = f"try_cast({parts}.d || ' ' || {parts}.t || left({parts}.f, 7) as timestamp)"
    offset = (
        f"(case when {parts}.z in ('Z', 'z') then 0 "
        f"when try_cast({parts}.hh as integer) <= 23 and try_cast({parts}.mm as integer) <= 59 "
        f"then (case {parts}.s when '-' then -1 else 1 end) "
        f"* (try_cast({parts}.hh as integer) * 60 + try_cast({parts}.mm as integer)) end)"
    )
    # try_cast accepts 24:00:00 as the next midnight; RFC 3339 hours stop at 23.
    return f"(case when {parts}.t < '24' then {local} - {offset} * interval 1 minute end)"


def is_content_key(k: str) -> str:
    names = ", ".join(sql_str(n) for n in CONTENT_KEYS)
    prefixes = " or ".join(f"starts_with(lower({k}), {sql_str(p)})" for p in CONTENT_KEY_PREFIXES)
    return f"(lower({k}) in ({names}) or {prefixes})"


def json_pointer(k: str) -> str:
    return f"('/' || replace(replace({k}, '~', '~0'), '/', '~1'))"


def alias_tag_entries(line: str) -> str:
    """`costline.tag.X` keys of a line as [{k: X, p: 1, v: json}] (pass 1: needs the line)."""
    n = len(TAG_ALIAS_PREFIX)
    return (
        f"(case when contains({line}, '{TAG_ALIAS_PREFIX}') then list_transform("
        f"list_filter(json_keys({line}), lambda k: starts_with(k, '{TAG_ALIAS_PREFIX}') "
        f"and length(k) > {n}), lambda k: {{'k': k[{n + 1}:], 'p': 1, "
        f"'v': json_extract({line}, {json_pointer('k')})}}) end)"
    )


def tag_entries(tags_j: str, aliases: str) -> str:
    """Candidate tags sorted by key, `tags` entries (p=0) before aliases (p=1) of the same key;
    non-string values and content keys are dropped."""
    own = (
        f"(case when starts_with({tags_j}, '{{') then list_transform(json_keys({tags_j}), "
        f"lambda k: {{'k': k, 'p': 0, 'v': json_extract({tags_j}, {json_pointer('k')})}}) end)"
    )
    return (
        f"(case when {tags_j} is not null or {aliases} is not null then "
        f"list_sort(list_filter(list_concat(coalesce({own}, []), coalesce({aliases}, [])), "
        f"lambda e: starts_with(e.v, '\"') and e.k <> '' and not {is_content_key('e.k')})) end)"
    )


def tags_json(entries: str) -> str:
    """The entries as JSON object text; the first entry per key wins (`tags` over aliases)."""
    deduped = f"list_filter({entries}, lambda e, i: i = 1 or e.k <> {entries}[i - 1].k)"
    return (
        f"(case when len({entries}) > 0 then to_json(map_from_entries(list_transform({deduped}, "
        f"lambda e: {{'key': e.k, 'value': e.v ->> '$'}}))) end)"
    )
