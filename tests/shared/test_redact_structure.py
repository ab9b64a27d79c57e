"""Redaction by structure: URLs are parsed, their password and password-like query parameters
masked, and nothing else in a message is touched (a short password does not turn every one of
its letters into ***)."""
from __future__ import annotations

import pytest

from shared.redact import redact, redact_query, redact_text, redact_url


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:pw@h/db?sslmode=require&sslpassword=k3y-pass",
     "postgresql://u:***@h/db?sslmode=require&sslpassword=***"),
    ("postgresql://u@h/db?password=pw&application_name=x", "postgresql://u@h/db?password=***&application_name=x"),
    ("mysql://u@h/db?ssl_key_password=pp&charset=utf8mb4", "mysql://u@h/db?ssl_key_password=***&charset=utf8mb4"),
    ("mysql://root:p@ss@h:3306/db", "mysql://root:***@h:3306/db"),            # an unencoded @ in the password
    ("https://user:s3cret@hooks.example/cb?sig=abc&id=7#top", "https://user:***@hooks.example/cb?sig=***&id=7#top"),
    ("/api/v1/tasks?page=2&api_key=k&token=t", "/api/v1/tasks?page=2&api_key=***&token=***"),
    ("sqlite:////srv/dumps/x.sqlite3", "sqlite:////srv/dumps/x.sqlite3"),
    ("http://h/cb?password=", "http://h/cb?password="),
])
def test_urls_are_masked_by_their_parts(url, expected):
    assert redact_url(url) == expected


def test_a_query_string_keeps_its_order_and_encoding():
    assert redact_query("b=%20x&pwd=1&a=&serviceKey=Ab%2B==&z") == "b=%20x&pwd=***&a=&serviceKey=***&z"


def test_a_short_password_does_not_mangle_a_message():
    message = "Cannot connect to postgresql://a:a@127.0.0.1:5432/a as a: a database named a was not found"
    assert redact_text(message) == ("Cannot connect to postgresql://a:***@127.0.0.1:5432/a as a: "
                                    "a database named a was not found")


def test_params_with_urls_holding_ssl_passwords_are_masked():
    params = {"input": {"database_url": "postgresql://u@h/db?sslpassword=hunter2", "table": "t"}}
    assert redact(params) == {"input": {"database_url": "postgresql://u@h/db?sslpassword=***", "table": "t"}}


def test_a_request_target_as_the_access_log_has_it_is_masked():
    assert redact_url("/x?sslpassword=abc&page=1") == "/x?sslpassword=***&page=1"
    assert redact_text('"GET /x?token=abc&page=1 HTTP/1.1" 200') == '"GET /x?token=***&page=1 HTTP/1.1" 200'
