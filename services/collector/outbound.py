"""Which hosts the collector may connect to on a caller's behalf: callback URLs, dump and
label_table databases, and the sample reads the API makes from those databases.

COLLECTOR_OUTBOUND_ALLOW is a list of `host[:port]` or `cidr[:port]` entries (a bare IPv6
address or network, or one in brackets before a port: `[fd00::/8]:5432`; `*.example.org`
matches the names under it). Link-local addresses (169.254.0.0/16, fe80::/10) and the
clouds' metadata endpoints are refused whatever the list says, and so are the unspecified
and multicast addresses.

A name is resolved once (`pin`), every address it resolves to is checked, and the caller
connects to the checked address itself (shared/http.py pins it for HTTP, database_urls.py
for the database drivers), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot move the connection elsewhere.

Refusals and failures say only "not allowed" or "could not connect": an answer that told a
closed port from an open one would make the collector a port scanner of its own network.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = ("127.0.0.0/8",)
NOT_ALLOWED = "not allowed"
COULD_NOT_CONNECT = "could not connect"

ALWAYS_REFUSED = tuple(ipaddress.ip_network(net) for net in (
    "169.254.0.0/16",       # IPv4 link-local, with the metadata endpoint of AWS, GCP, Azure, OpenStack
    "fe80::/10",            # IPv6 link-local
    "fd00:ec2::254/128",    # AWS's IPv6 metadata endpoint
    "100.100.100.200/32",   # Alibaba Cloud's metadata endpoint
    "0.0.0.0/8",            # "this host": connecting to 0.0.0.0 reaches local services
    "::/128",
    "224.0.0.0/4", "ff00::/8",  # multicast
    "255.255.255.255/32",
))
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com"})
_NAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


class OutboundRefused(Exception):
    """The target is not allowed; the message says so without saying anything about the target's state."""


class OutboundUnreachable(Exception):
    """The target is allowed but its name did not resolve: "could not connect"."""


@dataclass(frozen=True)
class Rule:
    name: str | None = None            # a host name ("db.internal", or "*.example.org")
    network: IPNetwork | None = None   # or a network (a single address is a /32 or /128)
    port: int | None = None            # None: any port

    def allows(self, name: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address.version == self.network.version and address in self.network
        return self.names(name)

    def names(self, name: str) -> bool:
        if self.name.startswith("*."):
            return name.endswith(self.name[1:])
        return name == self.name


@dataclass(frozen=True)
class Pinned:
    """A checked target: connect to `address`, and name the host `name` (TLS, Host header)."""

    name: str
    address: str
    port: int


def parse_rule(entry: str) -> Rule:
    """`host[:port]` or `cidr[:port]`; IPv6 bare (no port) or in brackets. Raises ValueError."""
    text, port = entry.strip(), None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"Not a host[:port] or cidr[:port] entry: {entry!r}")
        text, port = inside, rest[1:] or None
    elif text.count(":") == 1:
        text, port = text.split(":")
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"Not a port (1-65535) in {entry!r}")
        port = int(port)
    try:
        return Rule(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not _NAME.match(name):
        raise ValueError(f"Not a host[:port] or cidr[:port] entry: {entry!r}")
    return Rule(name=name, port=port)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # a zone index (fe80::1%eth0) names a link
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)   # ::ffff:169.254.169.254 is 169.254.169.254
    return mapped or address


def always_refused(address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in ALWAYS_REFUSED)


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class OutboundPolicy:
    def __init__(self, rules: list[Rule], resolver: Resolver = system_resolver):
        self.rules = rules
        self.resolver = resolver

    @classmethod
    def parse(cls, entries, resolver: Resolver = system_resolver) -> OutboundPolicy:
        if isinstance(entries, str):
            entries = entries.split(",")
        return cls([parse_rule(entry) for entry in entries if entry.strip()], resolver)

    def precheck(self, host: str | None, port: int) -> None:
        """The part of the check that needs no DNS lookup (start time: a 422 before anything is stored).
        Raises OutboundRefused; a name the list does not name is left to `pin`, which resolves it."""
        name = _normal(host)
        address = _address(name)
        if address is not None:
            self._check(name, address, port)
        elif name in METADATA_NAMES or self._names_only_and_unlisted(name, port):
            raise OutboundRefused(NOT_ALLOWED)

    def _names_only_and_unlisted(self, name: str, port: int) -> bool:
        """A list of names only decides a name without DNS; one with networks needs its addresses."""
        return not any(rule.network is not None for rule in self.rules) and not any(
            rule.names(name) and rule.port in (None, port) for rule in self.rules)

    def pin(self, host: str | None, port: int) -> Pinned:
        """Resolve `host` once and return the first of its addresses the list allows; refuse the
        target if none is, or if any is always refused."""
        name = _normal(host)
        if name in METADATA_NAMES:
            raise OutboundRefused(NOT_ALLOWED)
        literal = _address(name)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = [a for a in map(_address, self.resolver(name, port)) if a is not None]
            except (OSError, UnicodeError):
                raise OutboundUnreachable(COULD_NOT_CONNECT) from None
            if not addresses:
                raise OutboundUnreachable(COULD_NOT_CONNECT)
        if any(always_refused(address) for address in addresses):
            raise OutboundRefused(NOT_ALLOWED)
        for address in addresses:
            if any(rule.allows(name, address, port) for rule in self.rules):
                return Pinned(name=name, address=str(address), port=port)
        raise OutboundRefused(NOT_ALLOWED)

    def _check(self, name: str, address: IPAddress, port: int) -> None:
        if always_refused(address) or not any(rule.allows(name, address, port) for rule in self.rules):
            raise OutboundRefused(NOT_ALLOWED)


def _normal(host: str | None) -> str:
    name = (host or "").strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not ((_NAME.match(name) and not name.startswith("*.")) or _address(name) is not None):
        raise OutboundRefused(NOT_ALLOWED)   # empty, a socket directory (/tmp), a list of hosts, ...
    return name


def policy_from_config(config) -> OutboundPolicy:
    """The policy of COLLECTOR_OUTBOUND_ALLOW (a list, or a comma-separated string)."""
    return OutboundPolicy.parse(config.get("COLLECTOR_OUTBOUND_ALLOW", DEFAULT_ALLOW))
