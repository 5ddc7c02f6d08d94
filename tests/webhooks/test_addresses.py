"""The address guard: https only, public addresses only unless private targets are allowed."""

from __future__ import annotations

import pytest

from receptionist.core.errors import Invalid
from receptionist.webhooks.addresses import AddressRefused, Unresolvable, check, parse, system_resolver


def dns(*answers):
    """A name server that answers these addresses (the tests' own DNS: one name, what it says now)."""
    return lambda host, port: list(answers)


@pytest.mark.parametrize("url, reason", [
    ("http://hooks.example.com/x", "https"),
    ("ftp://hooks.example.com/x", "https"),
    ("https:///x", "no host"),
    ("https://user:pw@hooks.example.com/x", "user name"),
    ("https://hooks.example.com/x#frag", "fragment"),
    ("https://hooks.example.com:99999/x", "url"),
    ("https://hooks.example.com/a b", "spaces"),
    ("", "required"),
])
def test_urls_that_are_not_https_webhooks_are_refused_with_the_reason(url, reason):
    with pytest.raises(Invalid, match=reason):
        parse(url)


def test_the_target_keeps_host_port_and_path():
    target = check("https://hooks.example.com:8443/in?x=1", allow_private=False, resolve=dns("93.184.215.14"))
    assert (target.host, target.port, target.path, target.addresses) == ("hooks.example.com", 8443, "/in?x=1",
                                                                         ("93.184.215.14",))


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("fc00::1", "private"), ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "not a public"), ("240.0.0.1", "reserved"), ("::ffff:127.0.0.1", "loopback"),
    ("192.0.2.1", "private"),
])
def test_non_public_addresses_are_refused_unless_private_targets_are_allowed(address, why):
    with pytest.raises(AddressRefused, match=why):
        check("https://crm.example.com/hook", allow_private=False, resolve=dns(address))
    assert check("https://crm.example.com/hook", allow_private=True, resolve=dns(address)).addresses == (address,)


@pytest.mark.parametrize("address, why", [("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
                                          ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified")])
def test_metadata_multicast_and_unspecified_are_refused_even_when_private_is_allowed(address, why):
    for allow in (False, True):
        with pytest.raises(AddressRefused, match=why):
            check("https://x.example.com/", allow_private=allow, resolve=dns(address))


def test_a_literal_address_is_checked_without_resolving():
    with pytest.raises(AddressRefused, match="loopback"):
        check("https://127.0.0.1:8443/x", allow_private=False, resolve=dns("93.184.215.14"))
    with pytest.raises(AddressRefused, match="metadata"):
        check("https://169.254.169.254/latest", allow_private=True)


def test_a_name_with_one_bad_address_among_good_ones_is_refused():
    with pytest.raises(AddressRefused, match="10.0.0.1"):
        check("https://x.example.com/", allow_private=False, resolve=dns("93.184.215.14", "10.0.0.1"))


def test_real_resolution_of_localhost_is_refused_and_an_unknown_name_does_not_resolve():
    with pytest.raises(AddressRefused, match="loopback"):
        check("https://localhost/x", allow_private=False)
    assert "127.0.0.1" in check("https://localhost/x", allow_private=True).addresses
    with pytest.raises(Unresolvable):
        system_resolver("no-such-host.invalid", 443)
