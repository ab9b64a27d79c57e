"""SqliteWriteTurn: writers of one SQLite file take turns across threads and real processes, a
process killed holding the turn lets go of it, one that holds it too long makes the waiter fail as
a locked database does (an OperationalError, answered 503), and other backends take no turn."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from shared.db import SqliteWriteTurn
from tests.support.processes import REPO_ROOT

# A process that takes the turn on argv[1]'s database, says so, and keeps it until told (a line on stdin).
HOLDER = """
import sys
from sqlalchemy import create_engine
from shared.db import SqliteWriteTurn
with SqliteWriteTurn().taken(create_engine("sqlite:///" + sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""

# A process that adds one to a counter `count` times, each a read then a write in a deferred
# transaction: two such writers meeting without the turn get "database is locked" (SQLite does not
# wait for a reader that must become a writer after another wrote), with it none does.
INCREMENTER = """
import sys
from sqlalchemy import create_engine, text
from shared.db import SqliteWriteTurn
engine, turn = create_engine("sqlite:///" + sys.argv[1], connect_args={"timeout": 10}), SqliteWriteTurn()
sys.stdin.readline()  # start together
for _ in range(int(sys.argv[2])):
    with turn.taken(engine), engine.begin() as conn:
        value = conn.execute(text("SELECT value FROM counter")).scalar_one()
        conn.execute(text("UPDATE counter SET value = :value"), {"value": value + 1})
print("done", flush=True)
"""


def _python(code: str, *args: str) -> subprocess.Popen:
    # `-c` puts the working directory first on sys.path: the repository's packages import from it.
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "turns.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("CREATE TABLE counter (value INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    yield path, engine
    engine.dispose()


@pytest.fixture
def holder(database):
    process = _python(HOLDER, str(database[0]))
    assert process.stdout.readline() == "held\n"
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)  # waits, and closes its pipes


def test_a_writer_of_another_process_waits_for_the_turn_and_fails_as_a_locked_database(database, holder):
    _, engine = database
    with pytest.raises(OperationalError, match="database is locked"), SqliteWriteTurn(timeout=0.2).taken(engine):
        pytest.fail("took the turn another process holds")
    holder.communicate("release\n", timeout=10)
    assert holder.returncode == 0
    with SqliteWriteTurn(timeout=5).taken(engine):
        pass


def test_a_process_killed_holding_the_turn_lets_go_of_it(database, holder):
    _, engine = database
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(10) == -signal.SIGKILL
    with SqliteWriteTurn(timeout=5).taken(engine):
        pass


def test_writers_of_two_processes_never_meet(database):
    path, engine = database
    count = 300
    writers = [_python(INCREMENTER, str(path), str(count)) for _ in range(2)]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM counter")).scalar_one() == 2 * count


def test_threads_of_one_process_take_turns(database):
    _, engine = database
    turn, held, release = SqliteWriteTurn(timeout=5), threading.Event(), threading.Event()

    def hold():
        with turn.taken(engine):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    turn.timeout = 0.2
    with pytest.raises(OperationalError, match="database is locked"), turn.taken(engine):
        pytest.fail("took the turn another thread holds")
    release.set()
    thread.join(10)
    turn.timeout = 5
    with turn.taken(engine):
        pass


def test_other_backends_take_no_turn():
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/never-connected")
    turn = SqliteWriteTurn(timeout=0.1)
    with turn.taken(engine), turn.taken(engine):  # nested: it would time out if it were a lock
        pass
