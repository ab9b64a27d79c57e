"""deploy/access_log.py: gunicorn's access line as gunicorn writes it, with secrets masked, for any
access_log_format (only the atoms the format names are worked out)."""
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from deploy.access_log import RedactingLogger

EVERY_PLAIN_ATOM = " ".join(f"%({atom})s" for atom in "hlutrsmUqHbBfaTDMLp")
HEADER_ATOMS = '"%({x-request-id}i)s" %({Content-Type}o)s %({raw_uri}e)s %({wsgi.url_scheme}e)s %({absent}i)s'


def exchange(query: str = "page=2", referer: str = "http://example.org/list?page=1", authorization="Basic dTpw",
             cookie: str = "session=abc"):
    target = f"/orders?{query}" if query else "/orders"
    request_headers = [("HOST", "127.0.0.1:8000"), ("USER-AGENT", 'orders-sync/1.0 "x"'),
                       ("AUTHORIZATION", authorization), ("X-REQUEST-ID", "first"), ("X-REQUEST-ID", "second"),
                       ("REFERER", referer), ("COOKIE", cookie)]
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": target, "PATH_INFO": "/orders", "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": 'orders-sync/1.0 "x"',
               "HTTP_REFERER": referer, "HTTP_AUTHORIZATION": authorization, "HTTP_COOKIE": cookie,
               "wsgi.url_scheme": "http"}
    response = SimpleNamespace(status="200 OK", sent=1234,
                               headers=[("Content-Type", "application/json"), ("Set-Cookie", "session=new")])
    return response, SimpleNamespace(headers=request_headers), environ, timedelta(seconds=1, microseconds=2345)


def line(logger_class, log_format: str, **kwargs) -> str:
    config = Config()
    config.set("access_log_format", log_format)
    logger = logger_class(config)
    logger.now = lambda: "[02/Dec/2026:04:00:00 +0000]"
    return log_format % SafeAtoms(logger.atoms(*exchange(**kwargs)))


@pytest.mark.parametrize("log_format", [Config().access_log_format, EVERY_PLAIN_ATOM, HEADER_ATOMS,
                                        "%({X-Request-ID}i)s %({CONTENT-TYPE}o)s %({RAW_URI}e)s"])
def test_without_secrets_the_line_is_gunicorns(log_format):
    assert line(RedactingLogger, log_format) == line(Logger, log_format)


def test_a_repeated_header_is_logged_with_its_last_value_as_gunicorn_does():
    assert line(RedactingLogger, "%({x-request-id}i)s") == "second"


def test_secret_query_parameters_are_masked_in_the_target_the_query_and_the_referer():
    log_format = '"%(r)s" %(q)s "%(f)s" %({raw_uri}e)s %({query_string}e)s %({referer}i)s'
    written = line(RedactingLogger, log_format, query="token=t0k&page=2", referer="http://example.org/?password=pw")
    assert written == ('"GET /orders?token=***&page=2 HTTP/1.1" token=***&page=2 "http://example.org/?password=***" '
                       "/orders?token=***&page=2 token=***&page=2 http://example.org/?password=***")


def test_secret_named_headers_and_variables_are_masked():
    log_format = "%({authorization}i)s %({cookie}i)s %({set-cookie}o)s %({http_cookie}e)s %({http_authorization}e)s"
    written = line(RedactingLogger, log_format, authorization="Bearer s3cr3t", cookie="session=c00kie")
    assert written == "*** *** *** *** ***"
    assert "s3cr3t" not in line(Logger, HEADER_ATOMS, authorization="Bearer s3cr3t")  # not named: not logged


def test_a_format_changed_by_a_reload_is_read_again():
    assert line(RedactingLogger, "%({x-request-id}i)s") == "second"
    assert line(RedactingLogger, "%({host}i)s") == "127.0.0.1:8000"
