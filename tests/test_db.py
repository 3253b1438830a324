"""The metadata database: transactions are all-or-nothing, migrations run once, and a
committed write is there for the next process that opens the file."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from dockyard.store.db import Database

pytestmark = pytest.mark.unit

STEPS = ["CREATE TABLE things (name TEXT PRIMARY KEY, n INTEGER NOT NULL);",
         "ALTER TABLE things ADD COLUMN note TEXT;\nCREATE INDEX things_n ON things (n);"]


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    database.migrate("things", STEPS)
    yield database
    database.close()


def test_migrations_run_once_and_record_the_version(tmp_path, db) -> None:
    assert db.version("things") == 2
    db.migrate("things", STEPS)                 # nothing left to apply: no "already exists"
    calls = []
    db.migrate("things", [*STEPS, lambda conn: calls.append(conn)])
    db.migrate("things", [*STEPS, lambda conn: calls.append(conn)])
    assert len(calls) == 1 and db.version("things") == 3
    assert db.version("other") == 0


def test_a_failing_step_leaves_the_version_and_tables_as_they_were(db) -> None:
    with pytest.raises(Exception):
        db.migrate("things", [*STEPS, "CREATE TABLE extra (x);\nCREATE TABLE things (y);"])
    assert db.version("things") == 2
    assert db.query_one("SELECT name FROM sqlite_master WHERE name = 'extra'") is None


def test_a_transaction_that_raises_changes_nothing(db) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO things (name, n) VALUES ('a', 1)")
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("UPDATE things SET n = 2 WHERE name = 'a'")
            conn.execute("INSERT INTO things (name, n) VALUES ('b', 1)")
            raise RuntimeError("cut short")
    assert [tuple(r) for r in db.query("SELECT name, n FROM things")] == [("a", 1)]


def test_nested_transactions_join_the_outer_one(db) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as outer:
            outer.execute("INSERT INTO things (name, n) VALUES ('a', 1)")
            with db.transaction() as inner:
                inner.execute("INSERT INTO things (name, n) VALUES ('b', 1)")
            raise RuntimeError("outer fails after the inner block ended")
    assert db.query("SELECT * FROM things") == []


def test_threads_share_the_connection_without_losing_writes(db) -> None:
    def bump(name: str) -> None:
        for _ in range(50):
            with db.transaction() as conn:
                row = conn.execute("SELECT n FROM things WHERE name = ?", (name,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO things (name, n) VALUES (?, 1)", (name,))
                else:
                    conn.execute("UPDATE things SET n = ? WHERE name = ?", (row[0] + 1, name))
    threads = [threading.Thread(target=bump, args=("shared",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert db.query_one("SELECT n FROM things WHERE name = 'shared'")["n"] == 200


def test_a_commit_is_visible_to_another_process(tmp_path, db) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO things (name, n) VALUES ('kept', 7)")
    out = subprocess.run(
        [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
         "print(c.execute('SELECT n FROM things').fetchone()[0])", db.path],
        capture_output=True, text=True, check=True).stdout
    assert out.strip() == "7"
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"


def test_when_done_runs_after_the_outermost_transaction_ends(db) -> None:
    seen: list[tuple[str, bool]] = []
    db.when_done(lambda ok: seen.append(("outside", ok)))
    assert seen == [("outside", True)]
    with db.transaction() as conn:
        with db.transaction():
            conn.execute("INSERT INTO things (name, n) VALUES ('a', 1)")
            db.when_done(lambda ok: seen.append(("inner", ok)))
        assert seen == [("outside", True)]        # the outer transaction decides
    assert seen[-1] == ("inner", True)
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO things (name, n) VALUES ('b', 2)")
            db.when_done(lambda ok: seen.append(("failed", ok)))
            raise RuntimeError("boom")
    assert seen[-1] == ("failed", False)
    assert [r["name"] for r in db.query("SELECT name FROM things")] == ["a"]
