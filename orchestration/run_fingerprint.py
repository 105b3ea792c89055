"""Whether a `costline run` / `backfill` has anything to do: "nothing changed since the last
successful run of this same window" is decided here, without Dagster, in well under a second.

The fingerprint is a sha256 of everything the run's result depends on:

- the window (first day, last day, job) and the input dir;
- every input file the run could read: relative path, size and mtime_ns of every file under the
  input dir except the day folders (`telemetry/<day>/`, `outcomes/<day>/`) outside the window;
- costline's code and dbt project: the contents of every *.py of ingestion/, orchestration/, enforcement/,
  reporting/ and demo/, pyproject.toml, every file of dbt_project/ (but target/, logs/,
  dbt_packages/ and dotfiles), plus the Python version and the versions of the packages a run uses;
- every COSTLINE_* variable and every non-COSTLINE variable a source reads (the providers' admin
  keys and base URLs), name and value, hashed: no value is ever written anywhere. COSTLINE_NOW is
  not hashed as such; the open UTC day it gives is, so a run on a later day never matches;
- the input and warehouse dir paths (COSTLINE_INPUT_DIR / _WAREHOUSE_DIR are not hashed as
  variables: `--input-dir` and the variable name the same place).

After a successful run the fingerprint computed *before* it started is recorded in
`<warehouse>/state/last_run.json` with a stamp of what it published (size and mtime of
warehouse.duckdb, mart.duckdb and the mart's Parquet files, the mart symlink's target): a run launched elsewhere (the
daemon, the UI, `costline hourly`) or a failed one changes the stamp, so the next CLI run is real.

Never skipped: a window reaching the open day (partial, still growing); a pull source
configured (it may have new data however still the files are); COSTLINE_RELOAD_INPUTS=1 or
`--force`; no published mart; no record, or a different one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

from ingestion.billing.anthropic import ANTHROPIC
from ingestion.billing.openai import OPENAI
from ingestion.clock import NOW_ENV
from ingestion.day_folders import RELOAD_ENV
from ingestion.langfuse.client import PUBLIC_KEY_ENV as LANGFUSE_PUBLIC_KEY_ENV
from ingestion.langfuse.client import SECRET_KEY_ENV as LANGFUSE_SECRET_KEY_ENV
from ingestion.settings import INPUT_DIR_ENV, WAREHOUSE_DIR_ENV, Paths
from ingestion.sources.litellm_spend_logs import DATABASE_URL_ENV as LITELLM_DATABASE_URL_ENV

REPO = Path(__file__).resolve().parents[1]
CODE_DIRS = ("ingestion", "orchestration", "reporting", "enforcement", "demo")
DBT_PROJECT = "dbt_project"
DBT_SKIPPED = frozenset({"target", "logs", "dbt_packages", "__pycache__"})
# Installed code a run's result depends on besides costline's own.
PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt", "genai-prices", "great-expectations")
DAY_FOLDERS = ("telemetry", "outcomes")
ENV_PREFIX = "COSTLINE_"
# Not hashed by name: the clock is hashed as the open day, the dirs as resolved paths.
ENV_NOT_HASHED = frozenset({NOW_ENV, INPUT_DIR_ENV, WAREHOUSE_DIR_ENV})
# Read by a source without the COSTLINE_ prefix: hashed too (keys only ever as part of a digest).
OTHER_ENV = (OPENAI.key_env, OPENAI.base_url_env, ANTHROPIC.key_env, ANTHROPIC.base_url_env)
STATE_FILE = Path("state") / "last_run.json"
STATE_VERSION = 1
TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    job: str = "daily"

    def describe(self) -> str:
        days = self.start.isoformat() if self.start == self.end else f"{self.start} .. {self.end}"
        return f"{days} ({self.job})"

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "job": self.job}


@dataclass(frozen=True)
class Decision:
    fingerprint: str
    skip: bool
    reason: str  # why it runs, or the one line saying why it does not


# --------------------------------------------------------------------------------------------
# The fingerprint
# --------------------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _window_days(window: Window) -> set[str]:
    days, day = set(), window.start
    while day <= window.end:
        days.add(day.isoformat())
        day += timedelta(days=1)
    return days


def _walk(folder: Path, root: Path) -> Iterator[tuple[str, int, int]]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=True):
            yield from _walk(Path(entry.path), root)
        else:
            try:
                stat = entry.stat(follow_symlinks=True)
            except FileNotFoundError:  # a dangling link, or a file removed while we walked
                continue
            yield Path(entry.path).relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns


def input_files(input_dir: Path, window: Window) -> Iterator[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every file a run of `window` could read, in order.

    Everything under the input dir but the day folders of days outside the window (a folder
    of a day folder root whose name is not a day is kept: listing too much only costs a run).
    """
    days = _window_days(window)
    try:
        top = sorted(os.scandir(input_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in top:
        if entry.name in DAY_FOLDERS and entry.is_dir():
            for day in sorted(os.scandir(entry.path), key=lambda e: e.name):
                if _is_day(day.name) and day.name not in days:
                    continue
                if day.is_dir():
                    yield from _walk(Path(day.path), input_dir)
                else:
                    stat = day.stat()
                    yield Path(day.path).relative_to(input_dir).as_posix(), stat.st_size, stat.st_mtime_ns
        elif entry.is_dir():
            yield from _walk(Path(entry.path), input_dir)
        else:
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            yield entry.name, stat.st_size, stat.st_mtime_ns


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def inputs_digest(input_dir: Path, window: Window) -> str:
    h = hashlib.sha256()
    for relative, size, mtime_ns in input_files(input_dir, window):
        h.update(f"{relative}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _code_files(repo: Path) -> Iterator[Path]:
    for folder in CODE_DIRS:
        yield from sorted((repo / folder).rglob("*.py"))
    yield repo / "pyproject.toml"
    dbt = repo / DBT_PROJECT
    for dirpath, dirnames, filenames in os.walk(dbt):
        dirnames[:] = sorted(d for d in dirnames if d not in DBT_SKIPPED and not d.startswith("."))
        # Not dotfiles: dbt writes its own `.user.yml` (an anonymous id) there on a first run.
        for name in sorted(n for n in filenames if not n.startswith(".")):
            yield Path(dirpath, name)


def code_digest(repo: Path = REPO) -> str:
    """Contents of costline's code and dbt project, the Python and the packages a run uses."""
    h = hashlib.sha256()
    for path in _code_files(repo):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        h.update(f"{path.relative_to(repo).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    h.update(sys.version.encode())
    for package in PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"\0{package}={version}".encode())
    return h.hexdigest()


def settings_digest(environ: Mapping[str, str]) -> str:
    """Every COSTLINE_* variable (and the few other ones a source reads), names and values."""
    names = sorted(n for n in environ if (n.startswith(ENV_PREFIX) and n not in ENV_NOT_HASHED) or n in OTHER_ENV)
    return _digest(*(f"{n}={environ[n]}" for n in names))


def fingerprint(
    paths: Paths, window: Window, today: date, environ: Mapping[str, str] = os.environ, repo: Path = REPO
) -> str:
    """The sha256 hex digest of everything a run of `window` depends on (see the module doc)."""
    return _digest(
        f"v{STATE_VERSION}",
        json.dumps(window.as_dict(), sort_keys=True),
        str(paths.input_dir),
        str(paths.warehouse_dir),
        today.isoformat(),
        inputs_digest(paths.input_dir, window),
        code_digest(repo),
        settings_digest(environ),
    )


# --------------------------------------------------------------------------------------------
# What was published, and the record of the last run
# --------------------------------------------------------------------------------------------


def published_stamp(paths: Paths) -> str | None:
    """A digest of what is published now; None without a mart. Any run that writes changes it."""
    parts = []
    for path in (paths.mart_db, paths.warehouse_db):
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        parts.append(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}")
    link = paths.mart_parquet_dir
    parts.append(os.readlink(link) if link.is_symlink() else "-")
    # The Parquet files BI tools read, so a deleted or rewritten one is never taken as current.
    parts += (f"{name}\0{size}\0{mtime_ns}" for name, size, mtime_ns in _walk(link, link))
    return _digest(*parts)


def state_path(paths: Paths) -> Path:
    return paths.warehouse_dir / STATE_FILE


def read_last_run(paths: Paths) -> dict | None:
    try:
        record = json.loads(state_path(paths).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("version") == STATE_VERSION else None


def forget_last_run(paths: Paths) -> None:
    """Called as a run starts (under the warehouse lock): until it succeeds, nothing is current."""
    state_path(paths).unlink(missing_ok=True)


def record_run(paths: Paths, window: Window, fingerprint_: str, run_id: str) -> Path:
    """After a successful run (under the warehouse lock): atomically, owner-only."""
    target = state_path(paths)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {
        "version": STATE_VERSION,
        "window": window.as_dict(),
        "fingerprint": fingerprint_,
        "published": published_stamp(paths),
        "run_id": run_id,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(record, indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------


def pull_sources(environ: Mapping[str, str]) -> list[str]:
    """The sources configured to fetch over the network (they may have new data any time)."""
    on = lambda name: bool(environ.get(name, "").strip())  # noqa: E731
    configured = []
    if on(LITELLM_DATABASE_URL_ENV):
        configured.append(LITELLM_DATABASE_URL_ENV)
    if on(LANGFUSE_PUBLIC_KEY_ENV) and on(LANGFUSE_SECRET_KEY_ENV):
        configured.append(LANGFUSE_PUBLIC_KEY_ENV)
    configured += [p.key_env for p in (OPENAI, ANTHROPIC) if on(p.key_env)]
    return configured


def decide(
    paths: Paths,
    window: Window,
    today: date,
    force: bool = False,
    environ: Mapping[str, str] = os.environ,
    repo: Path = REPO,
) -> Decision:
    """Whether a run of `window` can be skipped; the fingerprint to record if it runs."""
    fp = fingerprint(paths, window, today, environ, repo)

    def run(reason: str) -> Decision:
        return Decision(fp, False, reason)

    if force:
        return run("--force")
    if window.end >= today:
        return run(f"the window reaches {today}, the day still running")
    if environ.get(RELOAD_ENV, "").strip().lower() in TRUE:
        return run(f"{RELOAD_ENV} is set")
    pulled = pull_sources(environ)
    if pulled:
        return run(f"a pull source is configured ({', '.join(pulled)})")
    if not paths.mart_db.exists():
        return run("no published mart")
    last = read_last_run(paths)
    if last is None:
        return run("no record of a successful run")
    if last.get("fingerprint") != fp or last.get("window") != window.as_dict():
        return run("inputs, code, settings or window differ from the last successful run")
    if last.get("published") != published_stamp(paths):
        return run("the warehouse or mart changed since the last successful run")
    return Decision(
        fp,
        True,
        f"nothing changed since run {last.get('run_id')} ({last.get('finished_at')}): same inputs, code and "
        f"settings for {window.describe()}; the published mart is current (pass --force to run anyway)",
    )
