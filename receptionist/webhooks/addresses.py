"""Where a webhook may go: an `https://` URL whose host resolves only to public addresses.

Checked when an endpoint is saved and again at every send, on the addresses that send then
connects to (`Target.addresses`), so a name that resolved to a public address when it was saved
and to an internal one later (DNS rebinding) is refused rather than followed. Refused always:
cloud metadata addresses (169.254.169.254, fd00:ec2::254), multicast and the unspecified address
(nothing a webhook can mean). Refused unless `RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE` allows private
targets: loopback, private (RFC 1918, unique-local), link-local, shared/CGNAT (100.64.0.0/10) and
every other address that is not globally reachable or is reserved.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from receptionist.core.errors import Invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it resolves to (socket.getaddrinfo by default; tests give their own DNS).
Resolver = Callable[[str, int], list[str]]

METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
MAX_URL = 2000


class AddressRefused(Invalid):
    """The URL's host is, or resolves to, an address webhooks may not go to."""


class Unresolvable(AddressRefused):
    """The URL's host does not resolve (now): refused at save time, retried at send time."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str  # the name certificates are checked against (and the Host header)
    port: int
    path: str  # path and query, as sent
    addresses: tuple[str, ...]  # every address the host resolved to, each checked


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolvable(f"url: {host} does not resolve ({exc.strerror})") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def parse(url: str) -> tuple[str, int, str]:
    """(host, port, path) of a webhook URL; Invalid with the reason when it is not one."""
    if not isinstance(url, str) or not url:
        raise Invalid("url: required")
    if len(url) > MAX_URL:
        raise Invalid(f"url: longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"url: {exc}") from None
    if parts.scheme != "https":
        raise Invalid(f"url: must be https:// (not {parts.scheme or 'schemeless'})")
    if not parts.hostname:
        raise Invalid("url: has no host")
    if parts.username or parts.password:
        raise Invalid("url: must not carry a user name or password")
    if parts.fragment:
        raise Invalid("url: must not have a #fragment")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Invalid("url: must not contain spaces or control characters")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port or 443, path


def refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why a webhook may not go to this address; None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if allow_private:
        return None
    for flag, why in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                      ("is_reserved", "a reserved address"), ("is_private", "a private address")):
        if getattr(address, flag):
            return why
    if not address.is_global:
        return "not a public address"  # 100.64.0.0/10 (shared, CGNAT) and the other special ranges
    return None


def check(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> Target:
    """The URL's target with every address it resolves to now, each allowed; AddressRefused otherwise."""
    host, port, path = parse(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal is not None else resolve(host, port)
    if not addresses:
        raise Unresolvable(f"url: {host} resolves to no address")
    for text in addresses:
        why = refusal(ipaddress.ip_address(text.split("%", 1)[0]), allow_private=allow_private)
        if why is not None:
            hint = "" if allow_private else " (RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE allows private targets)"
            raise AddressRefused(f"url: {host} resolves to {text}, {why}: webhooks go only to public addresses{hint}")
    return Target(url, host, port, path, tuple(addresses))
