"""Hard limits enforced at the gateway: plain Python, no Dagster.

dbt decides which workspaces are over their hard limit (`marts.hard_limit_status`); this
package reads that decision from the published mart, compares it with what is in place
(the enforcement log, `log.py`), and tells the gateways (`gateways.py`: the LiteLLM proxy's
admin API, a signed webhook) to block or unblock. `enforce.py` is the entry point;
`orchestration/enforcement.py` wires it into the daily and hourly runs after publication.
"""
