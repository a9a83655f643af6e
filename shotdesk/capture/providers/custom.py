"""A user-defined screenshot service: a request template filled in from the CaptureSpec.

The template (:class:`CustomTemplate`) says the method, the URL with placeholders, an optional
JSON body with placeholders, how booleans are spelled, and which header carries the key.

**Placeholders** — ``{name}`` for every CaptureSpec field: ``{url}``, ``{width}``, ``{height}``,
``{scale}``, ``{format}``, ``{quality}``, ``{full_page}``, ``{dark_mode}``, ``{block_ads}``,
``{hide_cookie_banners}``, ``{delay_ms}``, ``{wait_until}``, ``{selector}``, ``{hide_selectors}``
(comma-separated), ``{css}``, ``{js}``, ``{user_agent}``, ``{timeout_s}``, ``{device}``; plus
derived values for other spellings and units: ``{delay_s}``, ``{timeout_ms}``, ``{ext}`` (jpg),
``{media_type}``, ``{output_width}``, ``{output_height}`` (CSS px × scale), and ``{api_key}``.
``{{``/``}}`` are literal braces. In the URL every value is URL-encoded; in the JSON body a string
that is exactly one placeholder becomes the typed value (number, boolean, null, list), and
placeholders inside longer strings are replaced by text. Booleans are spelled ``true/false``
(default), ``1/0``, ``yes/no`` or ``on/off``.

**Template string** (CLI ``--template``), either

* ``[METHOD] URL [JSON-BODY]`` — method defaults to GET, or POST when a body follows::

      GET https://shots.example/api?u={url}&w={width}&h={height}&full={full_page}
      POST https://shots.example/render {"url": "{url}", "viewport": {"width": "{width}"}}
      /api/shot?u={url}            (a path: joined to the provider's base URL, --api-base)

* or a JSON object with the fields of :class:`CustomTemplate`::

      {"method": "POST", "url": "https://shots.example/render", "body": {"url": "{url}"},
       "booleans": "1/0", "auth_header": "X-API-Key", "formats": ["png", "jpeg"]}

Settings store ``CustomTemplate.to_dict()``; :meth:`CustomTemplate.from_dict` also takes
``{"template": "<template string>", "auth_header": …}`` (what ``shotdesk capture --template …
--auth-header NAME`` saves).

**Honesty**: an option set away from its default whose placeholder the template lacks is refused
as :class:`Unsupported` (never silently dropped); the formats are all four when the template
mentions ``{format}``/``{ext}``/``{media_type}``, else ``formats`` (PNG by default). The answer is
validated like every other provider's. The template's host must be https (or loopback http);
redirects are followed by hand (at most 5) and the key header is dropped on a different origin.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import quote, urljoin, urlsplit

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import make_client, request
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, same_origin
from shotdesk.core.errors import AuthError, BadResponse, CaptureError, InvalidSpec, Unsupported
from shotdesk.core.media import check_media
from shotdesk.core.spec import DEFAULT_QUALITY, FORMATS, CaptureSpec

SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CaptureSpec) if f.name != "provider")
DERIVED: tuple[str, ...] = ("delay_s", "timeout_ms", "ext", "media_type", "output_width",
                            "output_height", "api_key")
PLACEHOLDERS: frozenset[str] = frozenset(SPEC_FIELDS + DERIVED)
BOOLEAN_STYLES: tuple[str, ...] = ("true/false", "1/0", "yes/no", "on/off")
METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH")
_FORMAT_NAMES = frozenset({"format", "ext", "media_type"})
#: Placeholders that honour an option (besides the option's own name).
_ALSO_HONOURS: Mapping[str, str] = {"delay_s": "delay_ms", "output_width": "scale",
                                    "output_height": "scale"}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_MAX_REDIRECTS = 5
_DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in fields(CaptureSpec)}


@dataclass(frozen=True)
class CustomTemplate:
    """How to ask a user-defined screenshot service for one capture (see the module docstring)."""

    url: str
    method: str = "GET"
    #: JSON body template (object, list or string with placeholders); None sends no body.
    body: Any = None
    booleans: str = "true/false"
    #: Header that carries the key (e.g. "X-API-Key"); None sends no key header.
    auth_header: str | None = None
    #: Text before the key in that header, e.g. "Bearer".
    auth_scheme: str = ""
    label: str = "Custom provider"
    #: Formats the service returns when the template has no {format}/{ext}/{media_type}.
    formats: tuple[str, ...] = ("png",)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        method = str(self.method or "GET").strip().upper()
        if method not in METHODS:
            raise InvalidSpec("template", f"The custom template's method must be one of "
                                          f"{', '.join(METHODS)}, got {self.method!r}")
        set_(self, "method", method)
        url = str(self.url or "").strip()
        if not url:
            raise InvalidSpec("template", "The custom template needs a URL",
                              hint='for example "GET https://shots.example/api?u={url}"')
        set_(self, "url", url)
        booleans = str(self.booleans).strip().lower().replace(" ", "")
        if booleans.count("/") != 1 or not all(booleans.split("/")):
            raise InvalidSpec("template", f"Booleans are spelled like 'true/false' or '1/0', "
                                          f"got {self.booleans!r}")
        set_(self, "booleans", booleans)
        header = (self.auth_header or "").strip() or None
        if header is not None and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", header):
            raise InvalidSpec("auth_header", f"{header!r} is not a valid HTTP header name")
        set_(self, "auth_header", header)
        set_(self, "auth_scheme", str(self.auth_scheme or "").strip())
        formats = tuple(dict.fromkeys("jpeg" if f == "jpg" else str(f).lower() for f in self.formats))
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise InvalidSpec("template", f"Unknown format(s) in the custom template: {bad or '(none)'}")
        set_(self, "formats", formats)
        unknown = sorted(self.placeholders() - PLACEHOLDERS)
        if unknown:
            raise InvalidSpec("template", f"Unknown placeholder {{{unknown[0]}}} in the custom template",
                              hint="known placeholders: " + ", ".join(sorted(PLACEHOLDERS)))
        if "{" in urlsplit(url).netloc or "}" in urlsplit(url).netloc:
            raise InvalidSpec("template", "The custom template's host cannot contain placeholders")
        if self.method == "GET" and self.body is not None:
            raise InvalidSpec("template", "A GET request cannot have a body: use POST")

    # ------------------------------------------------------------------ formats
    @classmethod
    def parse(cls, text: str) -> CustomTemplate:
        """Read the template string of ``--template`` (see the module docstring)."""
        raw = (text or "").strip()
        if not raw:
            raise InvalidSpec("template", "The custom template is empty",
                              hint='for example "GET https://shots.example/api?u={url}&w={width}"')
        if raw.startswith("{"):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidSpec("template", f"The custom template is not valid JSON ({exc.msg}, "
                                              f"column {exc.colno})") from None
            if not isinstance(data, dict):
                raise InvalidSpec("template", "A JSON template must be an object")
            return cls.from_dict(data)
        head, _, rest = raw.partition(" ")
        method = "GET"
        if re.fullmatch(r"[A-Za-z]+", head) and head.upper() not in METHODS:
            raise InvalidSpec("template", f"The custom template's method must be one of "
                                          f"{', '.join(METHODS)}, got {head!r}")
        explicit = head.upper() in METHODS
        if explicit:
            method = head.upper()
            head, _, rest = rest.strip().partition(" ")
        body: Any = None
        rest = rest.strip()
        if rest:
            try:
                body = json.loads(rest)
            except json.JSONDecodeError as exc:
                raise InvalidSpec("template", f"The body of the custom template is not valid JSON "
                                              f"({exc.msg}, column {exc.colno})",
                                  hint='write it like {"url": "{url}", "width": "{width}"}') from None
            if not explicit:
                method = "POST"
        return cls(url=head, method=method, body=body)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomTemplate:
        """From settings: the dataclass fields, or ``{"template": "<string>", …overrides}``."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        text = data.pop("template", None)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidSpec("template", f"Unknown custom-template setting {unknown[0]!r}",
                              hint="known: template, " + ", ".join(sorted(known)))
        if "formats" in data and data["formats"] is not None:
            data["formats"] = tuple(data["formats"])
        data = {k: v for k, v in data.items() if v is not None or k in ("body", "auth_header")}
        if text is not None:
            base = cls.parse(str(text))
            merged = {f.name: getattr(base, f.name) for f in fields(cls)}
            merged.update(data)
            return cls(**merged)
        if "url" not in data:
            raise InvalidSpec("template", "The custom template needs a URL")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "method": self.method, "body": self.body, "booleans": self.booleans,
                "auth_header": self.auth_header, "auth_scheme": self.auth_scheme, "label": self.label,
                "formats": list(self.formats)}

    def to_string(self) -> str:
        """The ``[METHOD] URL [BODY]`` form (loses label, booleans, auth: use to_dict to store)."""
        body = f" {json.dumps(self.body)}" if self.body is not None else ""
        return f"{self.method} {self.url}{body}"

    # ------------------------------------------------------------------ meaning
    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for text in [self.url, *_strings(self.body)]:
            names.update(m.group(1).strip() for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None)
        return names

    def capabilities(self) -> Capabilities:
        used = self.placeholders()
        honoured = {name for name in used if name in ALL_OPTIONS}
        honoured.update(_ALSO_HONOURS[name] for name in used if name in _ALSO_HONOURS)
        formats = frozenset(FORMATS) if used & _FORMAT_NAMES else frozenset(self.formats)
        notes = {name: f"the custom template has no {{{name}}} placeholder"
                 for name in ALL_OPTIONS - honoured}
        return Capabilities(formats=formats, options=frozenset(honoured),
                            max_scale=3.0 if "scale" in honoured else 1.0,
                            needs_key=bool(self.auth_header) or "api_key" in used, notes=notes)

    def render(self, spec: CaptureSpec, api_key: str | None = None,
               base_url: str | None = None) -> tuple[str, str, Any, dict[str, str]]:
        """``(method, url, json_body, headers)`` for ``spec``; the URL's values are URL-encoded."""
        values = _values(spec, api_key)
        used = self.placeholders()
        if "api_key" in used and not api_key:
            raise AuthError(f"{self.label} needs an API key (the template uses {{api_key}})",
                            hint="store one with `shotdesk key set custom` or in Settings")
        url = _fill(self.url, lambda name: quote(self._text(values[name]), safe=""))
        if url.startswith("/") or not urlsplit(url).scheme:
            if not base_url:
                raise InvalidSpec("template", "The custom template's URL is a path but no base URL is set",
                                  hint="give a full https:// URL or pass --api-base")
            url = urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))
        parts = urlsplit(url)
        check_base_url(f"{parts.scheme}://{parts.netloc}", provider=self.label, field="template")
        body = None if self.body is None else self._fill_json(self.body, values)
        headers: dict[str, str] = {}
        if self.auth_header:
            if not api_key:
                raise AuthError(f"No API key for {self.label}",
                                hint="store one with `shotdesk key set custom` or in Settings")
            headers[self.auth_header] = f"{self.auth_scheme} {api_key}".strip()
        return self.method, url, body, headers

    # ------------------------------------------------------------------ helpers
    def _spell(self, value: bool) -> str:
        yes, no = self.booleans.split("/")
        return yes if value else no

    def _text(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return self._spell(value)
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, list | tuple):
            return ",".join(self._text(v) for v in value)
        return str(value)

    def _typed(self, value: Any) -> Any:
        if isinstance(value, bool):
            word = self._spell(value)
            if word in ("true", "false"):
                return value
            if word in ("1", "0"):
                return int(word)
            return word
        if isinstance(value, tuple):
            return list(value)
        return value

    def _fill_json(self, node: Any, values: Mapping[str, Any]) -> Any:
        if isinstance(node, str):
            whole = re.fullmatch(r"\{([^{}]+)\}", node.strip())
            if whole and whole.group(1).strip() in values:
                return self._typed(values[whole.group(1).strip()])
            return _fill(node, lambda name: self._text(values[name]))
        if isinstance(node, list):
            return [self._fill_json(item, values) for item in node]
        if isinstance(node, dict):
            return {key: self._fill_json(item, values) for key, item in node.items()}
        return node


class CustomProvider:
    """Adapter for a :class:`CustomTemplate`."""

    label: str = "Custom provider"
    needs_key: ClassVar[bool] = False
    default_base_url: ClassVar[str | None] = None
    #: Class-level: everything (the real limits come from the template, per instance).
    capabilities: Capabilities = Capabilities()

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None,
                 template: CustomTemplate | Mapping[str, Any] | str | None = None,
                 provider_id: str = "custom", policy: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None) -> None:
        if template is None:
            raise InvalidSpec("template", "The custom provider needs a request template",
                              hint="pass --template '…' or save one in Settings")
        if isinstance(template, str):
            template = CustomTemplate.parse(template)
        elif not isinstance(template, CustomTemplate):
            template = CustomTemplate.from_dict(template)
        self.template = template
        self.id = provider_id
        self.label = template.label
        self.capabilities = template.capabilities()
        self.base_url = check_base_url(base_url, provider=self.label) if base_url else None
        self._key = api_key or None
        self._client = client or make_client()
        self._owns_client = client is None
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or RateLimiter(max_concurrency=4, provider=self.label)

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        self._check(spec)
        method, url, body, headers = self.template.render(spec, self._key, self.base_url)
        if progress:
            progress(None, f"Asking {self.label}")
        timeout = httpx.Timeout(spec.timeout_s + 30.0, connect=10.0)
        secrets = (self._key,)
        response: httpx.Response | None = None
        for _ in range(_MAX_REDIRECTS + 1):
            response = await request(
                self._client, method, url, json=body, headers=headers, provider=self.label,
                timeout=timeout, policy=self._policy, limiter=self._limiter, secrets=secrets,
                classify=self._classify)
            location = response.headers.get("location")
            if not (300 <= response.status_code < 400 and location):
                break
            target = urljoin(url, location)
            parts = urlsplit(target)
            try:
                check_base_url(f"{parts.scheme}://{parts.netloc}", provider=self.label, field="template")
            except InvalidSpec as exc:  # the service's answer, not the user's template
                raise BadResponse(f"{self.label} redirected to an address ShotDesk will not use "
                                  f"({exc.message})", hint="check the URL of the custom template") from None
            if not same_origin(url, target):
                headers = {}
            if response.status_code in (301, 302, 303):
                method, body = "GET", None
            url = target
        else:
            raise BadResponse(f"{self.label} redirected too many times",
                              hint="check the URL of the custom template")
        assert response is not None
        info = await asyncio.to_thread(check_media, response.content, expected=spec.format,
                                       content_type=response.headers.get("content-type"),
                                       source=self.label)
        return CaptureResult(data=response.content, media_type=info.media_type, width=info.width,
                             height=info.height, provider=self.id, metadata={})

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _check(self, spec: CaptureSpec) -> None:
        self.capabilities.check(self.id, spec)
        used = self.template.placeholders()
        problems = []
        if spec.format in ("jpeg", "webp") and spec.quality != DEFAULT_QUALITY and "quality" not in used:
            problems.append(f"quality {spec.quality}")
        if spec.width != _DEFAULTS["width"] and not used & {"width", "output_width"}:
            problems.append(f"width {spec.width}")
        if spec.height != _DEFAULTS["height"] and not used & {"height", "output_height"}:
            problems.append(f"height {spec.height}")
        if problems:
            raise Unsupported(f"{self.id} cannot honour: {'; '.join(problems)} (the custom template "
                              "has no placeholder for it)",
                              hint="add the placeholder to the template or leave the option at its default")

    def _classify(self, response: httpx.Response) -> CaptureError | None:
        if 300 <= response.status_code < 400 and response.headers.get("location"):
            return None
        return error_for_response(response, provider=self.label, secrets=(self._key,))


def _values(spec: CaptureSpec, api_key: str | None) -> dict[str, Any]:
    data = spec.to_dict()
    values: dict[str, Any] = {name: data[name] for name in SPEC_FIELDS}
    values["hide_selectors"] = tuple(spec.hide_selectors)
    out_w, out_h = spec.output_size
    values.update({
        "delay_s": spec.delay_ms / 1000, "timeout_ms": round(spec.timeout_s * 1000),
        "ext": spec.extension, "media_type": spec.media_type, "output_width": out_w,
        "output_height": out_h, "api_key": api_key or "",
    })
    return values


def _fill(text: str, value_of: Any) -> str:
    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return str(value_of(match.group(1).strip()))

    return _PLACEHOLDER.sub(sub, text)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [s for item in node.values() for s in _strings(item)]
    return []
