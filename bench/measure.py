"""Run one command and print its wall time and the peak RSS of its process tree's largest member.

`python -m bench.measure -- CMD ...` prints one JSON line. A separate process per measurement,
because getrusage(RUSAGE_CHILDREN) keeps the maximum over every child ever waited for.
"""

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    command = sys.argv[sys.argv.index("--") + 1 :]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "returncode": completed.returncode,
                "stderr_tail": completed.stderr[-2000:] if completed.returncode else "",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
