"""`q` through the search index (SQLite FTS5 trigram, PostgreSQL pg_trgm) answers exactly what
the plain LIKE over title, institution and department answers, page by page, also after updates,
deletes, a VACUUM, a dump and restore (which renumbers the trials' implicit rowids) and the
migration that re-keyed the SQLite index by trial_id."""
import os
import random
import sqlite3
from pathlib import Path
from urllib.parse import quote

import flask_migrate
import pytest
from sqlalchemy import delete, or_, select
from sqlalchemy.engine import make_url

from services.trials import create_app, trials
from services.trials.models import SQLITE_SEARCH_TABLE, Trial, db
from tests.support.auth import AUTH, SERVICE_TOKEN
from tests.support.trials import trial

WORDS = ("조직구증식증", "코호트", "레지스트리", "서울아산병원", "국립암센터", "위암", "천식", "Registry", "REGISTRY",
         "registry", "Prospective", "cohort", "Asthma", "Oncology", "Pediatrics", "100%", "a_b", "x", "임상", "연구",
         'say "hi"', "MATCH", "NEAR", "AND", "*", "^", "(", ":")


def records(rng, count, generation, first=0):
    def phrase():
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))

    return [trial(f"S{n:04d}", 과제명=phrase() if rng.random() > 0.1 else None, 진료과=rng.choice(WORDS),
                  연구책임기관=phrase() if rng.random() > 0.1 else None, 연구기간=f"{generation}년")
            for n in range(first, first + count)]


def queries(rng):
    found = ["registry", "REGISTRY", "Registry", "레지스트리", "코호트", "위암", "서울아산", "아산", "암", "x", "X",
             "100%", "%", "_", "a_b", 'say "hi"', '"', "AND", "NEAR", "*", "^", "(", ":", "tr", "조직구증식증 코호트",
             "nothing at all", "registry 위암"]
    for _ in range(30):  # random substrings of stored text, 1 to 6 characters, case changed
        word = rng.choice(WORDS)
        start = rng.randrange(len(word))
        piece = word[start:start + rng.randint(1, 6)]
        found.append(piece.swapcase() if rng.random() < 0.3 else piece)
    return found


def reference_like(q):
    """The reference: case-insensitive LIKE as SQLAlchemy writes it (lower() on both sides on SQLite)."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern, escape="\\") for column in (Trial.title, Trial.institution, Trial.department)))


def like_ids(app, q, include_withdrawn=False, sort="trial_id"):
    with app.app_context():
        stmt = trials.filtered_trials({"include_withdrawn": include_withdrawn, "sort": sort}).where(reference_like(q))
        return list(db.session.scalars(stmt.with_only_columns(Trial.trial_id)))


def served_ids(client, q, per_page):
    ids, page, total = [], 1, None
    while total is None or len(ids) < total:
        response = client.get(f"/trials?q={quote(q)}&per_page={per_page}&page={page}")
        assert response.status_code == 200, (q, page, response.json)
        total = response.json["count"]
        ids += [t["trial_id"] for t in response.json["data"]]
        page += 1
    return ids, total


def check(app, client, rng):
    for q in queries(rng):
        expected = like_ids(app, q)
        for per_page in (7, 100):
            ids, total = served_ids(client, q, per_page)
            assert ids == expected, (q, per_page)
            assert total == len(expected), q


def test_indexed_search_answers_as_like_does(app, client, put_batch):
    rng = random.Random(20261201)
    assert put_batch(records(rng, 300, 1)).status_code == 200
    check(app, client, rng)
    # An update rewrites titles and institutions: the index follows (SQLite: its triggers).
    assert put_batch(records(rng, 300, 2)[::2]).status_code == 200
    check(app, client, rng)


def test_sorted_searches_answer_as_like_does(app, client, put_batch):
    rng = random.Random(7)
    put_batch(records(rng, 120, 1))
    for q in ("registry", "코호트", "암", "a_b"):
        for sort in ("-title", "institution", "-updated_at"):
            response = client.get(f"/trials?q={quote(q)}&sort={sort}&per_page=100")
            assert [t["trial_id"] for t in response.json["data"]] == like_ids(app, q, sort=sort), (q, sort)


def test_the_search_index_exists_after_the_migrations(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            names = set(db.session.scalars(db.text("SELECT name FROM sqlite_master")))
            assert {"trials_search", "trials_search_rowids", "trials_search_insert", "trials_search_update",
                    "trials_search_delete"} <= names
        else:
            assert postgres_search(app) == (
                {"ix_trials_title_lower_trgm", "ix_trials_institution_lower_trgm", "ix_trials_department_lower_trgm"},
                {"title_lower", "institution_lower", "department_lower"})
        assert db.session.scalar(select(db.func.count()).select_from(Trial)) == 0


def delete_trials(app, trial_ids):
    with app.app_context():
        db.session.execute(delete(Trial).where(Trial.trial_id.in_(trial_ids)))
        trials.bump_revision()  # as every write does: the kept totals follow
        db.session.commit()


def vacuum(app):
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM" if connection.dialect.name == "sqlite" else "VACUUM FULL trials")


def implicit_rowids(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(db.text("SELECT trial_id, rowid FROM trials")).all())


def dump_and_restore(app):
    """The SQLite file replaced by a restore of its dump, as `sqlite3 old .dump | sqlite3 new` makes it:
    the dump's INSERTs into trials carry no rowid, so the restored rows are numbered afresh."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    path = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    source = sqlite3.connect(path)
    # Python's iterdump also selects a virtual table's rows as if it were a table, which no restore
    # can insert before the schema is reloaded; the shell's .dump leaves them out, as here: the
    # FTS5 shadow tables, dumped as tables, hold them.
    virtual_rows = f'INSERT INTO "{SQLITE_SEARCH_TABLE}" VALUES'
    script = "\n".join(line for line in source.iterdump() if not line.startswith(virtual_rows))
    source.close()
    restored = path.with_name("restored.sqlite3")
    target = sqlite3.connect(restored)
    target.executescript(script)
    target.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(restored, path)


def test_search_answers_as_like_after_deletes_inserts_and_a_vacuum(app, client, put_batch):
    rng = random.Random(31)
    assert put_batch(records(rng, 300, 1)).status_code == 200
    delete_trials(app, [f"S{n:04d}" for n in range(0, 300, 3)])
    assert put_batch(records(rng, 100, 2, first=300)).status_code == 200
    vacuum(app)
    check(app, client, rng)
    # Updates, inserts and deletes after it are followed as before.
    assert put_batch(records(rng, 200, 3, first=150)).status_code == 200
    delete_trials(app, [f"S{n:04d}" for n in range(1, 400, 5)])
    check(app, client, rng)


@pytest.mark.parametrize("db_backend", ["sqlite"])  # a dump of the SQLite file; PostgreSQL has its own tools
def test_search_answers_as_like_after_a_dump_and_restore(app, client, put_batch):
    rng = random.Random(41)
    assert put_batch(records(rng, 300, 1)).status_code == 200
    delete_trials(app, [f"S{n:04d}" for n in range(0, 300, 4)])
    assert put_batch(records(rng, 60, 2, first=300)).status_code == 200
    before = implicit_rowids(app)
    dump_and_restore(app)
    after = implicit_rowids(app)
    assert after.keys() == before.keys()
    assert sum(after[trial_id] != rowid for trial_id, rowid in before.items()) > 200  # renumbered
    check(app, client, rng)
    assert put_batch(records(rng, 360, 3)[::2]).status_code == 200
    delete_trials(app, [f"S{n:04d}" for n in range(2, 360, 7)])
    check(app, client, rng)


def unmigrated_app(database_url, tmp_path):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SERVICE_TOKEN": SERVICE_TOKEN,
                       "VAR_DIR": tmp_path, "LOG_DIR": tmp_path / "log", "TRIALS_CACHE_SECONDS": 0})


def upgrade_and_check(app, client, rng):
    """Up to the newest revision, and every search answered as LIKE answers it."""
    with app.app_context():
        flask_migrate.upgrade()
    check(app, client, rng)


def close(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def rowid_keyed_matches(app, q):
    """The trials 7c2e9a41f0b3's index finds for `q`, by trials' implicit rowid as it did."""
    phrase = '"' + q.replace('"', '""') + '"'
    with app.app_context():
        return sorted(db.session.scalars(db.text(
            "SELECT trial_id FROM trials WHERE rowid IN "
            "(SELECT rowid FROM trials_search WHERE trials_search MATCH :phrase)"), {"phrase": phrase}))


@pytest.mark.parametrize("db_backend", ["sqlite"])  # PostgreSQL's indexes are not touched by 5b8d3f6a2c71
def test_the_migration_rebuilds_a_rowid_keyed_index_by_trial_id(database_url_for, tmp_path):
    app = unmigrated_app(database_url_for("trials"), tmp_path)
    client = app.test_client()
    with app.app_context():
        flask_migrate.upgrade(revision="7c2e9a41f0b3")
    rng = random.Random(53)
    for batch in (records(rng, 300, 1), records(rng, 60, 2, first=300)):
        assert client.put("/trials/batch", json={"records": batch}, headers=AUTH).status_code == 200
    delete_trials(app, [f"S{n:04d}" for n in range(0, 300, 4)])
    like = {q: sorted(like_ids(app, q, include_withdrawn=True)) for q in ("registry", "코호트", "Asthma", "서울아산")}
    assert all(rowid_keyed_matches(app, q) == ids for q, ids in like.items())
    dump_and_restore(app)  # a developer's restored database: the old index now points at other rows
    assert any(rowid_keyed_matches(app, q) != ids for q, ids in like.items())

    upgrade_and_check(app, client, rng)
    # Down and up again: the previous index rebuilt from trials, then this one.
    with app.app_context():
        flask_migrate.downgrade(revision="7c2e9a41f0b3")
    assert all(rowid_keyed_matches(app, q) == ids for q, ids in like.items())
    upgrade_and_check(app, client, rng)
    close(app)


def postgres_search(app) -> tuple[set, set]:
    """The trials table's pg_trgm indexes and its `*_lower` columns."""
    with app.app_context():
        indexes = set(db.session.scalars(db.text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'trials' AND schemaname = current_schema() "
            "AND indexname LIKE '%trgm'")))
        columns = set(db.session.scalars(db.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'trials' "
            "AND table_schema = current_schema() AND column_name LIKE '%lower'")))
    return indexes, columns


def test_the_migration_to_stored_lower_columns_keeps_every_search(database_url_for, db_backend, tmp_path):
    """Trials stored before e4a7c9d2b815 are found through the columns it adds on PostgreSQL (which
    computes them for the rows already there); down and up again leaves it as it was. SQLite's
    index is not touched, and answers the same throughout."""
    app = unmigrated_app(database_url_for("trials"), tmp_path)
    client = app.test_client()
    with app.app_context():
        flask_migrate.upgrade(revision="5b8d3f6a2c71")
    rng = random.Random(71)
    assert client.put("/trials/batch", json={"records": records(rng, 300, 1)}, headers=AUTH).status_code == 200
    before = ({"ix_trials_title_trgm", "ix_trials_institution_trgm", "ix_trials_department_trgm"}, set())
    after = ({"ix_trials_title_lower_trgm", "ix_trials_institution_lower_trgm", "ix_trials_department_lower_trgm"},
             {"title_lower", "institution_lower", "department_lower"})
    postgres = db_backend == "postgresql"
    assert not postgres or postgres_search(app) == before
    with app.app_context():
        flask_migrate.upgrade()
    assert not postgres or postgres_search(app) == after
    check(app, client, rng)
    with app.app_context():
        flask_migrate.downgrade(revision="5b8d3f6a2c71")
    assert not postgres or postgres_search(app) == before
    upgrade_and_check(app, client, rng)
    close(app)
