"""Writing files so a reader never sees half of one (saved API pages, reports, demo inputs)."""

import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, body: bytes, mode: int = 0o600) -> None:
    """Exact bytes, never a half-written file: a temp file in the same folder, then a rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
