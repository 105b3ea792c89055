"""Helpers for tests that run costline on a local Spark (pyspark in session mode, as dbt-spark).

`spark_session` opens Spark with the very settings of the profile's `spark` target
(dbt_project/profiles.yml), so a test reads the tables dbt wrote through the same metastore.
The Derby metastore allows one process: close the session before dbt runs again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jinja2
import pytest
import yaml
from dbt_fixtures import DBT_PROJECT_DIR


def spark_missing_reason() -> str | None:
    """Why Spark cannot run here (None when it can): pyspark, dbt-spark or Java missing."""
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "the optional extra `spark` (pyspark, dbt-spark[session]) is not installed"
    java = shutil.which(
        "java", path=os.path.join(os.environ["JAVA_HOME"], "bin") if os.environ.get("JAVA_HOME") else None
    )
    if not java or subprocess.run([java, "-version"], capture_output=True).returncode != 0:
        return "no Java runtime (Spark needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


def require_spark() -> None:
    """Skip the calling test without Spark; with COSTLINE_REQUIRE_SPARK=1, fail instead.

    Not in CI yet: with pyspark installed beside great-expectations, the daemon test's run
    failed its GX step with `SystemExit: 0` (issue 16, open); CI will set the variable once
    the Spark extra lives beside the test extra safely."""
    reason = spark_missing_reason()
    if reason is None:
        return
    if os.environ.get("COSTLINE_REQUIRE_SPARK", "").strip() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the Spark tests: {reason}")
    pytest.skip(reason)


def profile_spark_conf(env: dict[str, str]) -> dict[str, str]:
    """The spark target's server_side_parameters, rendered with `env` as dbt would."""
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    params = profile["costline"]["outputs"]["spark"]["server_side_parameters"]

    def env_var(name: str, default: str | None = None) -> str:
        value = env.get(name, default)
        if value is None:
            raise KeyError(name)
        return value

    render = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {key: render.from_string(str(value)).render(env_var=env_var) for key, value in params.items()}


@contextmanager
def spark_session(env: dict[str, str]) -> Iterator:
    """A local SparkSession on the profile's warehouse and metastore; timestamps in UTC."""
    from pyspark.sql import SparkSession

    # pyspark turns TIMESTAMP values into Python datetimes in the process's local zone.
    previous_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in profile_spark_conf(env).items():
        builder = builder.config(key, value)
    # dbt-spark forces ANSI mode off; the tests see what dbt's SQL saw.
    builder = builder.config("spark.sql.ansi.enabled", "false")
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()
        # A stopped session's JVM keeps the Derby lock until the gateway goes.
        from pyspark import SparkContext

        gateway = SparkContext._gateway
        if gateway is not None:
            process = getattr(gateway, "proc", None)
            gateway.shutdown()
            if process is not None:
                process.stdin.close()  # the JVM exits when its parent's pipe closes
                process.wait(timeout=60)
            SparkContext._gateway = None
            SparkContext._jvm = None
        if previous_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous_tz
        time.tzset()


def spark_env(warehouse_dir: Path) -> dict[str, str]:
    """The environment the profile's spark target reads, all paths under `warehouse_dir`."""
    return {
        "COSTLINE_WAREHOUSE_DIR": str(warehouse_dir),
        "COSTLINE_SPARK_DRIVER_MEMORY": "2g",
        "COSTLINE_SPARK_MASTER": "local[2]",
    }
