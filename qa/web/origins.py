"""Who may call the API from a browser (CORS) and who may frame the chat (CSP frame-ancestors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Paths a page on another origin may call; everything else is left to its own handler. The
# sign-in forms are here too, so another site's page cannot sign a visitor in or out (login CSRF).
CORS_PREFIXES = ("/api/", "/healthz", "/login", "/logout")
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` in lower case without a default port, as browsers send it."""
    if value.strip() == "*":
        return "*"
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an origin (expected scheme://host[:port]): {value!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


@dataclass(frozen=True)
class OriginPolicy:
    """The app's own origin is always allowed; `allowed` adds others ("*" allows any)."""

    allowed: frozenset[str]

    @classmethod
    def from_settings(cls, origins: tuple[str, ...]) -> OriginPolicy:
        """Parse QA_ALLOWED_ORIGINS entries; a malformed entry is a startup error."""
        return cls(frozenset(normalise_origin(origin) for origin in origins))

    def allows(self, origin: str, host: str | None) -> bool:
        """True when a page at `origin` may use the app served under the Host header `host`."""
        if "*" in self.allowed:
            return True
        try:
            origin = normalise_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed or file:// pages) and garbage
        if host and urlsplit(origin).netloc == _strip_default_port(host.lower(), origin):
            return True
        return origin in self.allowed

    def frame_ancestors(self) -> str:
        """The CSP directive naming who may put the app in a frame."""
        if "*" in self.allowed:
            return "frame-ancestors *"
        return " ".join(["frame-ancestors 'self'", *sorted(self.allowed)])


def _strip_default_port(host: str, origin: str) -> str:
    default = ":443" if origin.startswith("https:") else ":80"
    return host[: -len(default)] if host.endswith(default) else host


class OriginGuard:
    """ASGI middleware: CORS for allowed origins on the API, a 403 with a reason for the others,
    and a frame-ancestors policy on every page that does not set its own CSP."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy
        self.frame_policy = policy.frame_ancestors()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin") or ""
        cross_origin_api = "origin" in headers and scope["path"].startswith(CORS_PREFIXES)
        if cross_origin_api and not self.policy.allows(origin, headers.get("host")):
            # Refused before any work; without CORS headers the browser also hides the body and
            # prints the CORS failure in the console, so the page learns nothing either way.
            await _json(send, 403, {"detail": f"origin {origin} is not allowed: add it to QA_ALLOWED_ORIGINS"})
            return
        if cross_origin_api and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _json(send, 204, None, {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            })
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                if cross_origin_api:
                    response_headers["Access-Control-Allow-Origin"] = origin
                    response_headers["Access-Control-Expose-Headers"] = "Retry-After"
                    response_headers.add_vary_header("Origin")
                if "content-security-policy" not in response_headers:
                    response_headers["Content-Security-Policy"] = self.frame_policy
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _json(send: Send, status: int, body: object, headers: dict[str, str] | None = None) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if body is not None:
        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
