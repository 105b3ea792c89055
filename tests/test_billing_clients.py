"""Billing API clients against a local fake of both admin APIs: paging, retries, failures, secrets."""

import logging
import pickle
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from billing_server import ANTHROPIC_KEY, OPENAI_KEY, Fault, billing_http_server, fake_api  # noqa: F401

from demo.billing_pages import to_json_bytes
from ingestion.billing import (
    BillingAuthError,
    BillingConfigError,
    BillingPaginationError,
    BillingRequestError,
    BillingResponseError,
    BillingRetryError,
    HttpSettings,
)
from ingestion.billing.http import PageClient, retry_after_s
from ingestion.billing.pages import PROVIDERS, parse_page
from ingestion.billing.secret import ApiKey

OPENAI, ANTHROPIC = PROVIDERS["openai"], PROVIDERS["anthropic"]
DAY = date(2025, 5, 10)
FAST = HttpSettings(
    connect_timeout_s=2,
    read_timeout_s=2,
    max_attempts=4,
    backoff_initial_s=0.001,
    backoff_max_s=0.01,
    max_retry_after_s=5,
)
WRONG_KEY = "sk-admin-WRONG-CANARY-0b1c2d3e"


@pytest.fixture(autouse=True)
def no_key_in_logs(caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    yield
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, WRONG_KEY):
        assert secret not in caplog.text


class Recorder:
    """A `save` callback and a `sleep` that record instead of touching disk or the clock."""

    def __init__(self):
        self.saved: dict[int, bytes] = {}
        self.waits: list[float] = []

    def save(self, number: int, body: bytes) -> str:
        self.saved[number] = body
        return f"memory/{number}.json"

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(provider, api, key=None, settings=FAST, recorder=None):
    base = api.openai_base_url if provider is OPENAI else api.anthropic_base_url
    key = key or (OPENAI_KEY if provider is OPENAI else ANTHROPIC_KEY)
    return PageClient(provider, ApiKey(key), base, settings, sleep=(recorder.sleep if recorder else time.sleep))


def fetch(provider, api, endpoint, start=DAY, end=DAY, real_sleep=False, **kwargs):
    recorder = kwargs.pop("recorder", None) or Recorder()
    with client(provider, api, recorder=None if real_sleep else recorder, **kwargs) as c:
        pages = list(c.fetch_pages(provider.endpoint(endpoint), start, end, recorder.save))
    return pages, recorder


# --- parsing money and tokens ------------------------------------------------------------


def test_openai_float_dollars_parse_exactly_to_six_places():
    body = (
        b'{"object":"page","has_more":false,"next_page":null,"data":[{"object":"bucket",'
        b'"start_time":1746835200,"end_time":1746921600,"results":['
        b'{"object":"organization.costs.result","amount":{"value":0.30000000000000004,"currency":"usd"},'
        b'"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_a"},'
        b'{"object":"organization.costs.result","amount":{"value":0.1,"currency":"usd"},'
        b'"line_item":"ft:gpt-4o-mini-2024-07-18:acme::x1, cached input","project_id":null},'
        b'{"object":"organization.costs.result","amount":{"value":2.0000005,"currency":"usd"},'
        b'"line_item":"web search tool calls","project_id":"proj_a"},'
        b'{"object":"organization.costs.result","amount":{"value":2.0000015,"currency":"usd"},'
        b'"line_item":"o3, output","project_id":"proj_a"},'
        b'{"object":"organization.costs.result","amount":{"value":12,"currency":"USD"},'
        b'"line_item":null,"project_id":"proj_b"},'
        b'{"object":"organization.costs.result","amount":{"value":1.5,"currency":"eur"},'
        b'"line_item":"gpt-4o, input","project_id":"proj_a"},'
        b'{"object":"organization.costs.result","line_item":"gpt-4o, output","project_id":"proj_a"}'
        b"]}]}"
    )
    page = parse_page(OPENAI, OPENAI.endpoint("costs"), body)
    got = [(item.bucket_day, item.line.scope_id, item.line.model, item.line.amount_usd) for item in page.lines]
    assert got == [
        (DAY, "proj_a", "gpt-4o-2024-08-06", Decimal("0.300000")),
        (DAY, None, "ft:gpt-4o-mini-2024-07-18:acme::x1", Decimal("0.100000")),
        (DAY, "proj_a", None, Decimal("2.000000")),  # half-even: ...0005 -> ...000
        (DAY, "proj_a", "o3", Decimal("2.000002")),  # half-even: ...0015 -> ...002
        (DAY, "proj_b", None, Decimal("12.000000")),
    ]
    assert sum(item.line.amount_usd for item in page.lines) == Decimal("16.400002")
    assert [p.reason for p in page.problems] == [
        "amount.currency is 'eur'; costline only loads usd bills",
        "amount is None, expected {'value': ..., 'currency': 'usd'}",
    ]
    assert page.problems[0].record_key == f"data[0].results[5] bucket {DAY}"


def test_anthropic_cent_strings_become_dollars_and_input_is_all_input():
    page = to_json_bytes(
        {
            "data": [
                {
                    "starting_at": "2025-05-10T00:00:00Z",
                    "ending_at": "2025-05-11T00:00:00Z",
                    "results": [
                        {
                            "currency": "USD",
                            "amount": "123.45",
                            "workspace_id": "wrkspc_1",
                            "description": "Claude Sonnet 4 Usage - Input Tokens",
                            "model": "claude-sonnet-4-20250514",
                            "cost_type": "tokens",
                        },
                        {
                            "currency": "USD",
                            "amount": "0.0001",
                            "workspace_id": None,
                            "description": "Web Search",
                            "model": None,
                        },
                        {
                            "currency": "USD",
                            "amount": "0.00005",
                            "workspace_id": None,
                            "description": "Rounding",
                            "model": None,
                        },
                        {
                            "currency": "USD",
                            "amount": "1e3",
                            "workspace_id": None,
                            "description": "Batch",
                            "model": None,
                        },
                        {
                            "currency": "USD",
                            "amount": "twelve",
                            "workspace_id": None,
                            "description": "Broken",
                            "model": None,
                        },
                    ],
                }
            ],
            "has_more": False,
            "next_page": None,
        }
    )
    costs = parse_page(ANTHROPIC, ANTHROPIC.endpoint("cost_report"), page)
    assert [
        (item.line.scope_id, item.line.line_item, item.line.model, item.line.amount_usd) for item in costs.lines
    ] == [
        ("wrkspc_1", "Claude Sonnet 4 Usage - Input Tokens", "claude-sonnet-4-20250514", Decimal("1.234500")),
        (None, "Web Search", None, Decimal("0.000001")),
        (None, "Rounding", None, Decimal("0.000000")),  # half a micro-dollar rounds to even
        (None, "Batch", None, Decimal("10.000000")),
    ]
    assert costs.problems[0].reason == "amount (cents) is 'twelve', expected a decimal amount"

    usage = to_json_bytes(
        {
            "data": [
                {
                    "starting_at": "2025-05-10T00:00:00Z",
                    "ending_at": "2025-05-11T00:00:00Z",
                    "results": [
                        {
                            "uncached_input_tokens": 100,
                            "cache_read_input_tokens": 1000,
                            "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 3},
                            "output_tokens": 50,
                            "workspace_id": None,
                            "model": "claude-x",
                        },
                        {"uncached_input_tokens": -1, "output_tokens": 0},
                    ],
                }
            ],
            "has_more": False,
            "next_page": None,
        }
    )
    parsed = parse_page(ANTHROPIC, ANTHROPIC.endpoint("usage_report_messages"), usage)
    line = parsed.lines[0].line
    assert (
        line.input_tokens,
        line.cache_read_input_tokens,
        line.cache_creation_input_tokens,
        line.output_tokens,
        line.requests,
    ) == (1123, 1000, 23, 50, None)
    assert parsed.problems[0].reason == "uncached_input_tokens is -1, expected an integer >= 0"


def test_a_bucket_that_is_not_one_utc_day_is_a_problem_not_a_day():
    body = to_json_bytes(
        {
            "data": [
                {"starting_at": "2025-05-10T06:00:00Z", "ending_at": "2025-05-11T06:00:00Z", "results": []},
                {"starting_at": "2025-05-11T02:00:00+02:00", "ending_at": "2025-05-12T00:00:00Z", "results": []},
            ],
            "has_more": False,
        }
    )
    page = parse_page(ANTHROPIC, ANTHROPIC.endpoint("cost_report"), body)
    assert page.days == {date(2025, 5, 11)}  # 02:00+02:00 is midnight UTC
    assert "is not one UTC day" in page.problems[0].reason


# --- paging and headers --------------------------------------------------------------------


def test_openai_pages_follow_next_page_and_send_admin_headers(fake_api):
    fake_api.max_buckets_per_page = 2
    for n in range(5):
        fake_api.openai_cost(DAY + timedelta(days=n), "proj_a", "gpt-4o-2024-08-06, input", f"0.{n + 1}")
    pages, recorder = fetch(OPENAI, fake_api, "costs", DAY, DAY + timedelta(days=4))
    assert [p.number for p in pages] == [1, 2, 3]
    assert [sorted(p.parsed.days) for p in pages] == [
        [DAY, DAY + timedelta(days=1)],
        [DAY + timedelta(days=2), DAY + timedelta(days=3)],
        [DAY + timedelta(days=4)],
    ]
    assert sum(item.line.amount_usd for p in pages for item in p.parsed.lines) == Decimal("1.5")
    seen = fake_api.requests_to("costs")
    assert "page" not in seen[0].params
    assert [s.params["page"] for s in seen[1:]] == [[pages[0].parsed.next_page], [pages[1].parsed.next_page]]
    assert all(s.headers_ok for s in seen)
    assert seen[0].params["start_time"] == ["1746835200"] and seen[0].params["end_time"] == ["1747267200"]
    assert list(recorder.saved) == [1, 2, 3]


def test_anthropic_usage_report_pages_and_headers(fake_api):
    fake_api.max_buckets_per_page = 1
    fake_api.anthropic_usage(DAY, "wrkspc_1", "claude-x", uncached=10, output=5, cache_read=7, cache_5m=3)
    fake_api.anthropic_usage(DAY + timedelta(days=1), None, "claude-x", uncached=1, output=1)
    pages, _ = fetch(ANTHROPIC, fake_api, "usage_report_messages", DAY, DAY + timedelta(days=1))
    assert len(pages) == 2
    assert [(item.line.scope_id, item.line.input_tokens) for p in pages for item in p.parsed.lines] == [
        ("wrkspc_1", 20),
        (None, 1),
    ]
    seen = fake_api.requests_to("usage_report_messages")
    assert seen[0].params["starting_at"] == ["2025-05-10T00:00:00Z"]
    assert seen[0].params["ending_at"] == ["2025-05-12T00:00:00Z"]
    assert all(s.headers_ok for s in seen)


def test_a_repeating_cursor_stops_with_a_clear_error(fake_api):
    fake_api.loop_cursor.add("costs")
    with pytest.raises(BillingPaginationError, match="already gave"):
        fetch(OPENAI, fake_api, "costs")
    assert len(fake_api.requests_to("costs")) == 2


def test_page_cap_stops_an_endless_chain(fake_api):
    fake_api.max_buckets_per_page = 1
    with pytest.raises(BillingPaginationError, match="after 2 pages"):
        fetch(
            OPENAI,
            fake_api,
            "costs",
            DAY,
            DAY + timedelta(days=5),
            settings=HttpSettings(**{**FAST.__dict__, "max_pages": 2}),
        )


# --- retries ---------------------------------------------------------------------------------


def test_429_waits_for_retry_after_ms_then_succeeds(fake_api):
    fake_api.anthropic_cost(DAY, "wrkspc_1", "Claude Usage", "250")
    fake_api.fail_next("cost_report", Fault(429, headers={"retry-after-ms": "1500", "retry-after": "9"}))
    pages, recorder = fetch(ANTHROPIC, fake_api, "cost_report")
    assert recorder.waits == [1.5]  # the millisecond hint wins over the coarser header
    assert pages[0].parsed.lines[0].line.amount_usd == Decimal("2.500000")
    assert len(fake_api.requests_to("cost_report")) == 2


def test_429_retry_after_seconds_is_honoured_for_real(fake_api):
    fake_api.fail_next("costs", Fault(429, headers={"Retry-After": "1"}))
    started = time.monotonic()
    pages, _ = fetch(OPENAI, fake_api, "costs", real_sleep=True)
    assert time.monotonic() - started >= 1.0
    assert pages[0].parsed.days == {DAY}


def test_500_twice_then_success_backs_off(fake_api):
    fake_api.openai_usage(DAY, "proj_a", "gpt-4o", "key_1", input_tokens=100, output_tokens=10, cached=40)
    fake_api.fail_next("usage_completions", Fault(500), Fault(503))
    pages, recorder = fetch(OPENAI, fake_api, "usage_completions")
    assert len(recorder.waits) == 2 and all(0 < w <= 0.011 for w in recorder.waits)
    line = pages[0].parsed.lines[0].line
    assert (line.input_tokens, line.cache_read_input_tokens, line.requests) == (100, 40, 1)


def test_529_overloaded_is_retried(fake_api):
    fake_api.fail_next("usage_report_messages", Fault(529))
    pages, recorder = fetch(ANTHROPIC, fake_api, "usage_report_messages")
    assert len(recorder.waits) == 1 and pages[0].parsed.days == {DAY}


def test_read_timeout_then_success(fake_api):
    fake_api.openai_cost(DAY, "proj_a", "gpt-4o, input", "0.5")
    fake_api.fail_next("costs", Fault(sleep_s=1.5))
    settings = HttpSettings(**{**FAST.__dict__, "read_timeout_s": 0.3})
    started = time.monotonic()
    pages, _ = fetch(OPENAI, fake_api, "costs", settings=settings)
    assert time.monotonic() - started < 1.4  # did not wait for the slow answer
    assert len(fake_api.requests_to("costs")) == 2
    assert pages[0].parsed.lines[0].line.amount_usd == Decimal("0.5")


def test_truncated_body_is_fetched_again(fake_api):
    fake_api.openai_cost(DAY, "proj_a", "gpt-4o, input", "0.25")
    fake_api.fail_next("costs", Fault(truncate=True))
    pages, recorder = fetch(OPENAI, fake_api, "costs")
    assert len(recorder.waits) == 1
    assert pages[0].parsed.lines[0].line.amount_usd == Decimal("0.25")
    assert recorder.saved[1].endswith(b"}\n")  # the good body replaced the cut one


def test_bodies_that_stay_truncated_give_up_with_a_clear_error(fake_api):
    fake_api.fail_next("costs", *[Fault(truncate=True)] * FAST.max_attempts)
    with pytest.raises(BillingRetryError) as caught:
        fetch(OPENAI, fake_api, "costs")
    message = str(caught.value)
    assert "openai costs page 1: gave up after 4 attempts" in message and "not valid JSON" in message
    assert "\n" not in message


def test_persistent_500_gives_up_after_the_attempt_budget(fake_api):
    fake_api.fail_next("cost_report", *[Fault(500)] * 10)
    with pytest.raises(BillingRetryError, match=r"gave up after 4 attempts .* last: HTTP 500: fake 500"):
        fetch(ANTHROPIC, fake_api, "cost_report")
    assert len(fake_api.requests_to("cost_report")) == 4


# --- failing fast -------------------------------------------------------------------------


@pytest.mark.parametrize("provider,env", [(OPENAI, "OPENAI_ADMIN_KEY"), (ANTHROPIC, "ANTHROPIC_ADMIN_KEY")])
def test_401_fails_fast_and_never_repeats_the_key(fake_api, provider, env):
    fake_api.expected_violations = 1
    endpoint = provider.endpoints[0].name
    with pytest.raises(BillingAuthError) as caught:
        fetch(provider, fake_api, endpoint, key=WRONG_KEY)
    assert len(fake_api.requests_to(endpoint)) == 1
    text = str(caught.value) + repr(caught.value)
    assert f"HTTP 401, the key is wrong or is not an admin key; set {env}" in text
    assert WRONG_KEY not in text and caught.value.__cause__ is None


def test_other_4xx_is_not_retried_and_keeps_the_provider_message(fake_api):
    fake_api.fail_next("costs", Fault(400, body=f'{{"error":{{"message":"bad group_by for {OPENAI_KEY}"}}}}'.encode()))
    with pytest.raises(BillingRequestError, match="HTTP 400: bad group_by for \\*\\*\\*") as caught:
        fetch(OPENAI, fake_api, "costs")
    assert OPENAI_KEY not in str(caught.value)
    assert len(fake_api.requests_to("costs")) == 1


def test_redirects_are_refused_so_the_key_does_not_follow(fake_api):
    fake_api.fail_next("costs", Fault(302, headers={"Location": "http://elsewhere.invalid/steal"}))
    with pytest.raises(BillingRequestError, match="redirect refused"):
        fetch(OPENAI, fake_api, "costs")


def test_json_that_is_not_a_page_is_saved_then_refused(fake_api):
    fake_api.fail_next("costs", Fault(body=b'{"status": "maintenance"}'))
    recorder = Recorder()
    with pytest.raises(BillingResponseError, match="without a 'data' list.*saved at memory/1.json"):
        fetch(OPENAI, fake_api, "costs", recorder=recorder)
    assert recorder.saved[1] == b'{"status": "maintenance"}'
    assert len(fake_api.requests_to("costs")) == 1


def test_has_more_without_a_cursor_is_a_pagination_error(fake_api):
    fake_api.fail_next("costs", Fault(body=b'{"object":"page","data":[],"has_more":true,"next_page":null}'))
    with pytest.raises(BillingPaginationError, match="has_more but gives no next_page"):
        fetch(OPENAI, fake_api, "costs")


def test_bad_base_url_is_a_config_error():
    with pytest.raises(BillingConfigError, match="OPENAI_BASE_URL"):
        PageClient(OPENAI, ApiKey(OPENAI_KEY), "api.openai.com/v1", FAST)


def test_retry_after_header_forms():
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a past date: no wait
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_api_key_never_shows_itself():
    key = ApiKey(OPENAI_KEY)
    assert OPENAI_KEY not in repr(key) + str(key) + f"{key}" + repr([key]) + repr({"k": key})
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert key.scrub(f"echo {OPENAI_KEY}!") == "echo ***!"
