from __future__ import annotations

import pytest

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.urls import domain_of, is_loopback_host, normalize_url


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("example.com", "https://example.com/"),
        ("  https://Example.com/a  ", "https://example.com/a"),
        ("\thttp://EXAMPLE.com:80/x?y=1#top\n", "http://example.com/x?y=1"),
        ("https://example.com:443", "https://example.com/"),
        ("example.com:8080/p", "https://example.com:8080/p"),
        ("localhost:8000", "http://localhost:8000/"),
        ("127.0.0.1:5000/app", "http://127.0.0.1:5000/app"),
        ("http://[::1]:9000/", "http://[::1]:9000/"),
        ("bücher.example", "https://xn--bcher-kva.example/"),
        ("https://münchen.de/straße", "https://xn--mnchen-3ya.de/straße"),
        ("//example.com/x", "https://example.com/x"),
    ],
)
def test_normalises(typed, expected):
    assert normalize_url(typed) == expected


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("file:///etc/passwd", "not file: addresses"),
        ("javascript:alert(1)", "not javascript: addresses"),
        ("data:text/html,hi", "not data: addresses"),
        ("ftp://example.com", "not ftp: addresses"),
        ("", "Enter a web address"),
        ("   ", "Enter a web address"),
        ("exa mple.com", "cannot contain spaces"),
        ("https://", "has no host name"),
        ("https://user:pw@example.com", "user name or password"),
        ("https://example.com:99999", "port"),
        ("https://exa..mple.com", "not a valid host name"),
    ],
)
def test_refuses_with_a_clear_message(typed, fragment):
    with pytest.raises(InvalidSpec) as err:
        normalize_url(typed)
    assert fragment in str(err.value)
    assert err.value.field == "url"


def test_loopback_and_domain():
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.5") and is_loopback_host("[::1]")
    assert not is_loopback_host("example.com") and not is_loopback_host("10.0.0.1")
    assert domain_of("https://www.example.com/a") == "example.com"
