"""`costline demo`: realistic inputs into the input dir (the table it prints at the end is
reporting/workspace_table.py, read from the published mart)."""

import logging
import shutil
from datetime import date
from pathlib import Path

from demo.billing_pages import write_demo_billing_pages
from demo.focus_exports import write_demo_focus_exports
from demo.inputs import generate_demo_inputs
from ingestion.settings import Paths

log = logging.getLogger("costline.demo")
DEMO_MARKER = ".costline-demo"


def _claim(directory: Path, what: str) -> None:
    """Only ever overwrite a directory that a previous demo wrote (or an empty one)."""
    if directory.exists() and any(directory.iterdir()) and not (directory / DEMO_MARKER).exists():
        raise FileExistsError(
            f"{what} {directory} already holds data that `costline demo` did not write; "
            f"pass --input-dir/--warehouse-dir pointing somewhere else"
        )
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    (directory / DEMO_MARKER).write_text("written by costline demo; safe to delete\n")


def generate_demo(paths: Paths, first: date, last: date, calls_per_day: int) -> None:
    _claim(paths.input_dir, "input dir")
    _claim(paths.warehouse_dir, "warehouse dir")
    days = (last - first).days + 1
    log.info(
        "generating %d days of demo inputs (%s .. %s, ~%d calls/day) in %s",
        days,
        first,
        last,
        calls_per_day,
        paths.input_dir,
    )
    summary = generate_demo_inputs(paths.input_dir, end=last, days=days, calls_per_day=calls_per_day)
    pages = write_demo_billing_pages(paths.billing_dir, summary.usage, credits=summary.credits)
    focus = write_demo_focus_exports(paths.billing_dir, summary.usage)
    log.info(
        "demo inputs: %d calls, %d requests in %d files, %d billing pages, %d FOCUS deliveries",
        summary.calls,
        summary.requests,
        summary.files,
        pages,
        focus,
    )
