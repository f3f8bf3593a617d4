"""Benchmark: what the ledger's safety costs on a workspace of N received returns.

    .venv/bin/python bench/ledger_check_bench.py --returns 2000

Figures, each beside a floor measured in the same run on the same files:
- the check every intake starts with (``Workspace.check_ledger``: PRAGMA quick_check, every
  archived object known to a row) against the floor of opening the ledger and counting rows;
- ``tonghop verify`` (``Workspace.verify``: every object read back and hashed) against the
  floor of reading every object's bytes and hashing them in one query;
- ``tonghop verify --rebuild`` (``Workspace.rebuild_ledger``) against the intake that built
  the ledger in the first place (``Intake.process_inbox`` over the same N files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shlex
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_bench import generate, make_workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=2000)
    args = parser.parse_args()
    command = shlex.join([".venv/bin/python", "bench/ledger_check_bench.py", *sys.argv[1:]])

    import tonghop
    from tonghop.intake.inbox import Intake

    with tempfile.TemporaryDirectory(prefix="tonghop-ledger-bench-") as tmp:
        home = make_workspace(Path(tmp) / "ws", args.returns)
        generate(home, args.returns)
        clock = lambda: dt.datetime(2024, 7, 5, 9)  # noqa: E731
        with tonghop.open(home, clock=clock) as ws:
            started = time.perf_counter()
            intake = Intake(ws.layout, ws.config, ws.form, ws.ledger, clock=clock)
            taken = len(intake.process_inbox())
            intake_s = time.perf_counter() - started
        assert taken == args.returns, taken

        with tonghop.open(home, clock=clock) as ws:
            started = time.perf_counter()
            db = sqlite3.connect(ws.layout.ledger)
            db.execute("SELECT COUNT(*) FROM submissions").fetchone()
            db.close()
            open_floor = time.perf_counter() - started
            started = time.perf_counter()
            ws.check_ledger()
            check_s = time.perf_counter() - started

            started = time.perf_counter()
            db = sqlite3.connect(ws.layout.archive / "objects.sqlite3")
            for sha, data in db.execute("SELECT sha256, data FROM objects"):
                assert hashlib.sha256(data).hexdigest() == sha
            db.close()
            hash_floor = time.perf_counter() - started
            started = time.perf_counter()
            verified = ws.verify()
            verify_s = time.perf_counter() - started
            assert verified.ok, verified.problems

            ws.layout.ledger.write_bytes(b"")
            started = time.perf_counter()
            rebuilt = ws.rebuild_ledger()
            rebuild_s = time.perf_counter() - started
            assert rebuilt.counted == args.returns, rebuilt.counted

    n = args.returns
    print(f"# {command}")
    print(f"returns: {n}")
    print(
        f"check at intake start: {check_s * 1000:.1f} ms (floor: open + count {open_floor * 1000:.1f} ms)"
    )
    print(
        f"verify: {verify_s * 1000:.0f} ms (floor: read + hash every object {hash_floor * 1000:.0f} ms, {verify_s / hash_floor:.2f}x)"
    )
    print(
        f"rebuild: {rebuild_s:.2f} s, {n / rebuild_s:.0f} returns/s (floor: the intake itself {intake_s:.2f} s, {n / intake_s:.0f} returns/s; {rebuild_s / intake_s:.2f}x)"
    )


if __name__ == "__main__":
    main()
