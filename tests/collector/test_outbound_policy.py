"""COLLECTOR_OUTBOUND_ALLOW: which targets the collector connects to on a caller's behalf, that a
refused one is never connected to (a listener records every attempt), and that a connection goes
to the address that was checked, not to a second DNS answer."""
from __future__ import annotations

import pytest
import requests

from services.collector.outbound import (
    NOT_ALLOWED,
    OutboundPolicy,
    OutboundRefused,
    OutboundUnreachable,
    parse_rule,
)
from shared.http import HttpSession
from tests.support.listeners import RecordingListener


def reach(policy: OutboundPolicy, url_host: str, port: int) -> requests.Response:
    """What a caller of the policy does: pin the host, then connect to the pinned address only."""
    pinned = policy.pin(url_host, port)
    session = HttpSession(timeout=5, retries=0, pin_address=pinned.address)
    return session.get(f"http://{url_host}:{port}/cb?token=x", allow_redirects=False)


class Resolver:
    """A DNS stand-in that answers from a table, and may change its answers after the first (rebinding)."""

    def __init__(self, *answers: list[str]):
        self.answers, self.calls = list(answers), []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def listener():
    with RecordingListener() as server:
        yield server


@pytest.fixture
def other_loopback_listener():
    """A listener on 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback interface)."""
    with RecordingListener("127.0.0.2") as server:
        yield server


def test_entries_are_hosts_or_networks_with_an_optional_port():
    assert parse_rule("127.0.0.0/8").port is None and str(parse_rule("127.0.0.0/8").network) == "127.0.0.0/8"
    assert parse_rule("db.internal:5432").name == "db.internal" and parse_rule("db.internal:5432").port == 5432
    assert str(parse_rule("[fd00::/8]:5432").network) == "fd00::/8" and parse_rule("[fd00::/8]:5432").port == 5432
    assert str(parse_rule("::1").network) == "::1/128"
    for bad in ("db.internal:0", "db.internal:http", "10.0.0.0/8:70000", "a b", "[::1]x"):
        with pytest.raises(ValueError):
            parse_rule(bad)


@pytest.mark.parametrize("host, port", [
    ("127.0.0.1", 5432), ("127.9.9.9", 1), ("localhost", 80), ("db.internal", 5432), ("x.corp.example", 9),
])
def test_allowed_targets_pass_the_start_check(host, port):
    OutboundPolicy.parse("127.0.0.0/8, db.internal:5432, *.corp.example").precheck(host, port)


@pytest.mark.parametrize("host, port", [
    ("169.254.169.254", 80), ("169.254.1.1", 5432), ("fe80::1", 80), ("fd00:ec2::254", 80),
    ("::ffff:169.254.169.254", 80), ("metadata.google.internal", 80), ("0.0.0.0", 5432),
    ("/var/run/postgresql", 5432), ("h1,h2", 5432), ("", 5432),
])
def test_link_local_metadata_and_unlisted_addresses_are_refused_even_when_listed(host, port):
    policy = OutboundPolicy.parse("127.0.0.0/8, 169.254.0.0/16, fe80::/10, fd00::/8, metadata.google.internal")
    for check in (policy.precheck, policy.pin):
        with pytest.raises(OutboundRefused, match=rf"^{NOT_ALLOWED}$"):
            check(host, port)


def test_an_unlisted_name_is_refused_at_start_when_the_list_holds_names_only():
    with pytest.raises(OutboundRefused):
        OutboundPolicy.parse("db.internal:5432").precheck("other.internal", 5432)
    with pytest.raises(OutboundRefused):
        OutboundPolicy.parse("db.internal:5432").precheck("db.internal", 3306)


def test_a_name_that_does_not_resolve_could_not_be_connected_to():
    with pytest.raises(OutboundUnreachable, match=r"^could not connect$"):
        OutboundPolicy.parse("*.invalid", resolver=Resolver([])).pin("nowhere.invalid", 80)


def test_an_allowed_target_is_reached(listener):
    response = reach(OutboundPolicy.parse(f"127.0.0.1:{listener.port}"), "127.0.0.1", listener.port)
    assert response.status_code == 200 and listener.count == 1


def test_refused_targets_are_never_connected_to(listener, other_loopback_listener):
    # A port the list does not name, on an allowed host.
    with pytest.raises(OutboundRefused):
        reach(OutboundPolicy.parse(f"127.0.0.1:{listener.port + 1}"), "127.0.0.1", listener.port)
    # A host the list does not name (the listener on 127.0.0.2 is there and would answer).
    with pytest.raises(OutboundRefused):
        reach(OutboundPolicy.parse("127.0.0.1/32"), "127.0.0.2", other_loopback_listener.port)
    # A name whose answer includes a link-local address, beside an allowed one.
    mixed = OutboundPolicy.parse("127.0.0.0/8", resolver=Resolver(["169.254.169.254", "127.0.0.1"]))
    with pytest.raises(OutboundRefused):
        reach(mixed, "evil.example", listener.port)
    assert listener.count == 0 and other_loopback_listener.count == 0
    # The listeners do record a connection when one is made: the assertions above can fail.
    reach(OutboundPolicy.parse("127.0.0.0/8"), "127.0.0.2", other_loopback_listener.port)
    assert other_loopback_listener.count == 1


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(listener):
    """DNS rebinding: the first answer is allowed, every later one points at the metadata endpoint.
    The request still names the host (Host header) while going to the checked address."""
    resolver = Resolver(["127.0.0.1"], ["169.254.169.254"])
    policy = OutboundPolicy.parse("rebind.invalid", resolver=resolver)
    response = reach(policy, "rebind.invalid", listener.port)
    assert response.status_code == 200 and resolver.calls == ["rebind.invalid"]
    request = listener.connections[0]["received"].decode()
    assert f"Host: rebind.invalid:{listener.port}\r\n" in request and request.startswith("GET /cb?token=x ")


def test_a_pinned_session_never_resolves_the_name_itself(listener):
    # .invalid never resolves (RFC 6761): reaching the listener proves the pinned address was used.
    session = HttpSession(timeout=5, retries=0, pin_address="127.0.0.1")
    assert session.get(f"http://pinned.invalid:{listener.port}/").status_code == 200
    with pytest.raises(requests.ConnectionError):
        HttpSession(timeout=5, retries=0).get(f"http://pinned.invalid:{listener.port}/")
    assert listener.count == 1


def test_every_call_has_a_connect_and_a_read_timeout():
    assert HttpSession(timeout=30).timeout == (10.0, 30)
    assert HttpSession(timeout=3).timeout == (3, 3)
    assert HttpSession(timeout=30, connect_timeout=2).timeout == (2, 30)
