"""`q` through the search index (SQLite FTS5 trigram, PostgreSQL pg_trgm) answers exactly what
the plain LIKE over title, institution and department answers, page by page, also after updates."""
import random
from urllib.parse import quote

from sqlalchemy import select

from services.trials import trials
from services.trials.models import Trial, db
from tests.support.trials import trial

WORDS = ("조직구증식증", "코호트", "레지스트리", "서울아산병원", "국립암센터", "위암", "천식", "Registry", "REGISTRY",
         "registry", "Prospective", "cohort", "Asthma", "Oncology", "Pediatrics", "100%", "a_b", "x", "임상", "연구",
         'say "hi"', "MATCH", "NEAR", "AND", "*", "^", "(", ":")


def records(rng, count, generation):
    def phrase():
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))

    return [trial(f"S{n:04d}", 과제명=phrase() if rng.random() > 0.1 else None, 진료과=rng.choice(WORDS),
                  연구책임기관=phrase() if rng.random() > 0.1 else None, 연구기간=f"{generation}년")
            for n in range(count)]


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


def like_ids(app, q, include_withdrawn=False):
    with app.app_context():
        stmt = trials.filtered_trials({"include_withdrawn": include_withdrawn}).where(
            trials.text_matches(q, use_index=False))
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
            with app.app_context():
                stmt = trials.filtered_trials({"sort": sort}).where(trials.text_matches(q, use_index=False))
                expected = list(db.session.scalars(stmt.with_only_columns(Trial.trial_id)))
            assert [t["trial_id"] for t in response.json["data"]] == expected, (q, sort)


def test_the_search_index_exists_after_the_migrations(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            names = set(db.session.scalars(db.text("SELECT name FROM sqlite_master")))
            assert {"trials_search", "trials_search_insert", "trials_search_update", "trials_search_delete"} <= names
        else:
            names = set(db.session.scalars(db.text("SELECT indexname FROM pg_indexes WHERE tablename = 'trials'")))
            assert {"ix_trials_title_trgm", "ix_trials_institution_trgm", "ix_trials_department_trgm"} <= names
        assert db.session.scalar(select(db.func.count()).select_from(Trial)) == 0
