"""A real PostgreSQL for the tests that need one (the Postgres publish, LiteLLM's spend logs).

A server is found at COSTLINE_TEST_POSTGRES_URL (default: the one `.ci/postgres.sh start`
runs). Without one these tests skip locally, and fail when CI is set: CI must run them.
"""

import os
import uuid

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

SERVER_URL_ENV = "COSTLINE_TEST_POSTGRES_URL"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:55432/postgres"


@pytest.fixture(scope="module")
def pg_server() -> str:
    url = os.environ.get(SERVER_URL_ENV) or DEFAULT_SERVER_URL
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        reason = (
            f"no PostgreSQL server at {url} ({str(error).strip().splitlines()[0]}); "
            f"start one with `.ci/postgres.sh start` or set {SERVER_URL_ENV}"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Postgres tests: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_database(pg_server):
    """A fresh database for one test, dropped afterwards."""
    name = f"costline_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    yield make_conninfo(pg_server, dbname=name)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
