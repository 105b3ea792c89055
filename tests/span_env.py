"""The span tool environment: a venv of the pinned instrumentation libraries, built once.

`tests/span_tools/requirements.txt` lists every package exactly; it is installed with
`pip install --no-deps` into a venv of its own, so none of those pins reach costline's
dependencies. The venv is cached under `~/.cache/costline-span-tools/<hash of the list>`
(`COSTLINE_SPAN_TOOLS_CACHE` moves the root): built in a temporary directory beside it and
renamed into place, under a file lock, so two xdist workers never build it twice and a
half-built venv is never used. Only `bin/python` is used from it (`python -m ...`), which a
renamed venv keeps working; its script shebangs would point at the temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from filelock import FileLock

SPAN_TOOLS = Path(__file__).parent / "span_tools"
REQUIREMENTS = SPAN_TOOLS / "requirements.txt"
MAKE_SPANS = SPAN_TOOLS / "make_spans.py"
READY = "costline-span-tools.ready"
# The import that proves the environment whole: one module of every library make_spans uses.
SMOKE = (
    "import openai, anthropic, openlit, opentelemetry.sdk.trace, "
    "opentelemetry.exporter.otlp.proto.common.trace_encoder, opentelemetry.instrumentation.openai_v2, "
    "opentelemetry.instrumentation.anthropic, openinference.instrumentation.openai"
)


def cache_root() -> Path:
    root = os.environ.get("COSTLINE_SPAN_TOOLS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "costline-span-tools"


def requirements_hash(requirements: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _log(message: str) -> None:
    # Past pytest's capture, so a first run shows why it is slow.
    sys.__stderr__.write(f"[span tools] {message}\n")
    sys.__stderr__.flush()


def _run(args: list[str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(args[:4])} ... failed ({done.returncode}); log {log}:\n{tail}")


def build_span_venv(requirements: Path = REQUIREMENTS, root: Path | None = None) -> Path:
    """The python of the span tool venv for `requirements`, building it when the cache lacks it."""
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / requirements_hash(requirements)
    if (venv / READY).exists():
        return venv_python(venv)
    with FileLock(str(root / f"{venv.name}.lock")):
        if (venv / READY).exists():  # another worker built it while this one waited
            return venv_python(venv)
        if venv.exists():  # not ready: a leftover of something else; never reused
            shutil.rmtree(venv)
        started = time.monotonic()
        building = Path(tempfile.mkdtemp(prefix=f".{venv.name}-", dir=root))
        log = root / f"{venv.name}.build.log"
        log.write_text("")
        try:
            _log(f"building the span tool venv in {venv} (once per requirements.txt; log {log})")
            _run([sys.executable, "-m", "venv", str(building)], log)
            python = str(venv_python(building))
            _log("installing the pinned instrumentation libraries (--no-deps)")
            _run(
                [python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-r", str(requirements)],
                log,
            )
            _run([python, "-c", SMOKE], log)
            (building / READY).write_text(requirements.read_text())
            building.rename(venv)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        _log(f"span tool venv ready in {time.monotonic() - started:.1f}s")
    return venv_python(venv)


@pytest.fixture(scope="session")
def span_python() -> Path:
    """Path of the span tool venv's python (built on first use, then cached across sessions)."""
    try:
        return build_span_venv()
    except RuntimeError as err:
        pytest.fail(f"the span tool environment could not be built: {err}")


def make_spans(python: Path, dialect: str, out: Path, provider_url: str, timeout: float = 300) -> str:
    """Runs make_spans.py for one dialect under the span venv; returns its stdout."""
    env = {
        **os.environ,
        "PYTHONNOUSERSITE": "1",
        "TRACELOOP_TELEMETRY": "false",
        "OTEL_SDK_DISABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PYTHONPATH", None)  # costline's modules must not leak into the tool environment
    done = subprocess.run(
        [str(python), str(MAKE_SPANS), dialect, str(out), provider_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"make_spans {dialect} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
