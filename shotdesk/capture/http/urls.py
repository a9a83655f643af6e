"""URL hygiene for provider requests: keys out of anything logged or stored; https unless loopback.

* :func:`redact_url` masks key-like query parameters (``access_key``, ``api_key``, ``token``,
  ``signature``…) and any ``user:password@`` part. Use it on every URL that goes into a log line,
  an exception message, capture metadata or the gallery.
* :func:`redact_text` does the same to every URL inside free text (a provider's error message,
  an exception's text) and masks the literal secrets passed to it.
* :func:`check_base_url` is the one rule for provider base URLs: ``https://`` anywhere,
  plain ``http://`` only for this computer (``localhost``, 127.0.0.0/8, ``::1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.urls import is_loopback_host

#: What replaces a secret value.
MASK = "***"

# Whole-name matches and name fragments of query parameters that carry credentials.
_SECRET_NAMES = frozenset({
    "key", "apikey", "api_key", "api-key", "access_key", "accesskey", "access-key", "token",
    "access_token", "auth", "authorization", "secret", "client_secret", "signature", "sig",
    "hmac", "password", "passwd", "pwd", "x-api-key", "x_api_key", "session", "credential",
})
_SECRET_PARTS = ("key", "token", "secret", "signature", "password", "passwd", "auth", "credential")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def is_secret_param(name: str) -> bool:
    """True when a query parameter called ``name`` may carry a credential."""
    lowered = name.strip().lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def redact_url(url: str) -> str:
    """``url`` with the values of key-like query parameters and any user info masked.

    >>> redact_url("https://api.example/take?access_key=abc&url=https%3A%2F%2Fx.org")
    'https://api.example/take?access_key=***&url=https%3A%2F%2Fx.org'

    Unparseable input is masked whole (it might be a key) rather than returned.
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_param(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={MASK if is_secret_param(name) else quote(value, safe='')}"
                for name, value in pairs
            )
    fragment = parts.fragment
    if fragment and any(part in fragment.lower() for part in _SECRET_PARTS):
        fragment = MASK
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every URL passed through :func:`redact_url` and each literal secret masked
    (also in its percent-encoded form, as it stands in a URL)."""
    out = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return out


def check_base_url(url: str, *, provider: str = "the provider", field: str = "api_base") -> str:
    """Validate a provider base URL and return it without a trailing slash.

    Refuses (with :class:`InvalidSpec` naming ``field``): anything but http/https, a missing
    host, a ``user:password@`` part (keys belong in the keyring), a query or fragment, and plain
    ``http://`` to any host that is not this computer.
    """
    text = (url or "").strip()
    if not text:
        raise InvalidSpec(field, f"Set the address (base URL) of {provider}",
                          hint="in Settings, or with --api-base on the command line")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidSpec(field, f"The address of {provider} is not a valid URL: "
                                 f"{redact_url(text)!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise InvalidSpec(
            field,
            f"The address of {provider} must start with https:// and name a host, "
            f"got {redact_url(text)!r}",
            hint="for example https://api.example.com",
        )
    if parts.username or parts.password:
        raise InvalidSpec(field, f"The address of {provider} must not contain a user name or password",
                          hint="store the key with `shotdesk key set` or in Settings instead")
    if parts.query or parts.fragment:
        raise InvalidSpec(field, f"The address of {provider} must not contain '?' or '#' parts",
                          hint="give only the base, for example https://api.example.com/v1")
    if scheme == "http" and not is_loopback_host(host):
        raise InvalidSpec(
            field,
            f"Plain http:// is refused for {provider} at {host}: the API key and the pictures "
            "would travel unencrypted",
            hint="use https://, or http:// only for a server on this computer (localhost, 127.0.0.1)",
        )
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def same_origin(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` share scheme, host and port (credentials may travel to ``b``)."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    return (pa.scheme.lower(), (pa.hostname or "").lower(), pa.port or default.get(pa.scheme.lower())) == (
        pb.scheme.lower(), (pb.hostname or "").lower(), pb.port or default.get(pb.scheme.lower()))
