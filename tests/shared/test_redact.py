import pytest

from shared.redact import redact, redact_text, redact_url


@pytest.mark.parametrize("text, secret", [
    ("postgresql+psycopg://user:p%40ss@host/db", "p%40ss"),
    ("mysql://root:hunter2@127.0.0.1:3306/x", "hunter2"),
    ("?serviceKey=AbC%2Bdef==&page=1", "AbC%2Bdef=="),
    ("Authorization: Infuser KEY123", "KEY123"),
    ("Bearer eyJhbGciOi.x.y", "eyJhbGciOi.x.y"),
    ("cookie NID_AUT=aaa; NID_SES=bbb", "aaa"),
    ("token=zzz&x=1", "zzz"),
    ("password: letmein", "letmein"),
])
def test_redact_text(text, secret):
    assert secret not in redact_text(text)


def test_redact_url_keeps_the_rest():
    assert redact_url("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("sqlite:///var/data/x.sqlite3") == "sqlite:///var/data/x.sqlite3"


def test_redact_structure():
    params = {"cafe_id": 1, "naver_cookies": "NID_AUT=1", "token": "t", "nested": {"password": "p", "ok": "v"},
              "database_url": "postgresql://u:pw@h/d", "empty_token": ""}
    assert redact(params) == {"cafe_id": 1, "naver_cookies": "***", "token": "***",
                              "nested": {"password": "***", "ok": "v"},
                              "database_url": "postgresql://u:***@h/d", "empty_token": ""}
