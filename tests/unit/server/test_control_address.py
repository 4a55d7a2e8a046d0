"""``--control`` addresses: unix or TCP, loopback unless another host is named."""

from __future__ import annotations

import pytest

from fakeqemu.server.endpoints import Endpoint, parse_control


def test_unix_and_tcp_addresses() -> None:
    assert parse_control("unix:/tmp/ctl.sock") == Endpoint("unix", path="/tmp/ctl.sock")
    assert parse_control("tcp:127.0.0.1:8440") == Endpoint("tcp", host="127.0.0.1", port=8440)
    assert parse_control("tcp:8440") == Endpoint("tcp", host="127.0.0.1", port=8440)
    assert parse_control("tcp:[::1]:0") == Endpoint("tcp", host="::1", port=0)


@pytest.mark.parametrize("text", ["bogus", "unix:", "tcp:", "tcp:host:port", "http://x"])
def test_a_bad_address_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|HOST:PORT"):
        parse_control(text)


def test_only_a_non_loopback_host_is_warned_about() -> None:
    assert parse_control("tcp:127.0.0.1:1").exposure_warning() is None
    assert parse_control("tcp:[::1]:1").exposure_warning() is None
    warning = parse_control("tcp:0.0.0.0:1").exposure_warning()
    assert warning is not None
    assert "every network interface" in warning
