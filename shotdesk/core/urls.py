"""URL normalisation: what the user typed → an http(s) URL a renderer can load, or a clear error."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from shotdesk.core.errors import InvalidSpec

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ALLOWED = ("http", "https")


def normalize_url(text: str) -> str:
    """Return ``text`` as a normalised http(s) URL.

    Trims whitespace, adds ``https://`` when the scheme is missing (``http://`` for localhost and
    loopback addresses), lower-cases scheme and host,
    encodes international host names with IDNA, and refuses other schemes (``file:``,
    ``javascript:``, ``data:``…) with a message naming the scheme.
    """
    raw = text.strip()
    if not raw:
        raise InvalidSpec("url", "Enter a web address, for example https://example.com")
    if any(ch.isspace() for ch in raw):
        raise InvalidSpec("url", f"A web address cannot contain spaces: {raw!r}")
    match = _SCHEME_RE.match(raw)
    scheme = match.group(1).lower() if match else ""
    # "localhost:8000/x" and "example.com:8080" look like scheme "localhost"/"example.com".
    looks_like_host_port = bool(match) and re.match(r"^[^:/]+:\d+(/|$)", raw) is not None
    if not match or looks_like_host_port:
        # No scheme: https, except for a local dev server, which almost always speaks plain http.
        bare_host = urlsplit("//" + raw.lstrip("/")).hostname or ""
        scheme = "http" if is_loopback_host(bare_host) else "https"
        raw = f"{scheme}://" + raw.lstrip("/")
    elif scheme not in _ALLOWED:
        raise InvalidSpec(
            "url",
            f"Only http and https pages can be captured, not {scheme}: addresses",
            hint="type an address such as https://example.com",
        )
    parts = urlsplit(raw)
    if parts.scheme.lower() in _ALLOWED and parts.netloc == "" and parts.path.startswith("//"):
        parts = urlsplit(parts.scheme + ":" + parts.path)
    host = parts.hostname or ""
    if not host:
        raise InvalidSpec("url", f"The address has no host name: {text.strip()!r}")
    host = _encode_host(host)
    netloc = host
    if ":" in host and not host.startswith("["):  # IPv6 literal
        netloc = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise InvalidSpec("url", f"The port in {text.strip()!r} is not a number from 1 to 65535") from None
    if port is not None:
        default = 443 if scheme == "https" else 80
        if port != default:
            netloc = f"{netloc}:{port}"
    if parts.username or parts.password:
        raise InvalidSpec("url", "Addresses with a user name or password are not supported",
                          hint="remove the 'user:password@' part")
    path = parts.path or "/"
    return str(urlunsplit((scheme, netloc, path, parts.query, "")))


def _encode_host(host: str) -> str:
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if any(not label for label in labels):
        raise InvalidSpec("url", f"{host!r} is not a valid host name")
    try:
        encoded = ".".join(
            label if label.isascii() else label.encode("idna").decode("ascii") for label in labels
        )
    except UnicodeError:
        raise InvalidSpec("url", f"{host!r} is not a valid international host name") from None
    if not re.fullmatch(r"[a-z0-9_.-]+", encoded) or len(encoded) > 253:
        raise InvalidSpec("url", f"{host!r} is not a valid host name")
    return encoded


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def domain_of(url: str) -> str:
    """The host of ``url`` without a leading ``www.`` — used for captions and file names."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host
