"""Compare two published marts table by table, row for row: `python bench/compare_marts.py OLD NEW`.

Used to prove a refactor changed no number (build a demo mart on the old and on the new code
with the same `--end`, then compare). Every column is compared exactly, rows sorted, except the
publication stamps that differ by construction (`published_at`, `run_id`). Exits 1 on any
difference, 2 on bad arguments.
"""

import sys
from pathlib import Path

import duckdb

STAMPS = {"published_at", "run_id"}


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'main' order by table_name, ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def compare(old_db: Path, new_db: Path) -> int:
    differences = 0
    with duckdb.connect(str(old_db), read_only=True) as old, duckdb.connect(str(new_db), read_only=True) as new:
        old_tables, new_tables = tables(old), tables(new)
        for name in sorted(set(old_tables) | set(new_tables)):
            if name not in old_tables or name not in new_tables:
                print(f"{name:34s} only in {'new' if name in new_tables else 'old'}")
                differences += 1
                continue
            if old_tables[name] != new_tables[name]:
                print(f"{name:34s} columns differ: {sorted(set(old_tables[name]) ^ set(new_tables[name]))}")
                differences += 1
                continue
            columns = ", ".join(f'"{c}"' for c in old_tables[name] if c not in STAMPS)
            sql = f"select {columns} from {name}"
            a = sorted(old.execute(sql).fetchall(), key=repr)
            b = sorted(new.execute(sql).fetchall(), key=repr)
            if a == b:
                print(f"{name:34s} {len(a):8d} rows  identical")
                continue
            differences += 1
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            print(f"{name:34s} {len(a):8d} / {len(b)} rows  DIFFERENT, first at sorted row {first}:")
            print(f"    old {a[first] if first < len(a) else '-'}\n    new {b[first] if first < len(b) else '-'}")
    print("identical" if not differences else f"{differences} tables differ")
    return 1 if differences else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or not all(Path(p).is_file() for p in sys.argv[1:]):
        print("usage: python bench/compare_marts.py OLD_MART.duckdb NEW_MART.duckdb", file=sys.stderr)
        sys.exit(2)
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))
