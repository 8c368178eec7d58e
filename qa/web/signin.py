"""Browser sessions (sign-in and the unlocked admin actions) and the optional sign-in for the chat and the API.

A session is a random id in an HttpOnly, SameSite=Lax cookie; what it grants (the user's name,
whether admin actions are unlocked) stays on the server, so neither a token nor a password is ever
in a page, a URL or a log. Sessions live in memory: a restart signs everyone out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import secrets
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .ratelimit import RateLimiter
from .users import Users

COOKIE = "qa_session"
# Sign-in attempts per client address per minute: enough for typos, too few for guessing.
LOGIN_ATTEMPTS_PER_MINUTE = 10
# Past this many live sessions the oldest are dropped (memory stays bounded whatever callers do).
MAX_SESSIONS = 10_000
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Session:
    """What one browser may do."""

    user: str | None = None
    admin: bool = False
    expires: float = 0.0


class Sessions:
    """Sessions by random id, kept in memory with an expiry; thread-safe."""

    def __init__(self, max_age_seconds: float) -> None:
        self.max_age = max_age_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def of(self, cookies: dict[str, str] | None) -> Session:
        """The session of a request's cookies; an empty one when there is none or it expired."""
        key = (cookies or {}).get(COOKIE, "")
        with self._lock:
            found = self._sessions.get(key)
            if found is None or found.expires < time.time():
                return Session()
            return found

    def grant(self, request: Request, response: Response, **changes: object) -> Session:
        """Give the request's browser a session with `changes` (user=..., admin=...), under a new id."""
        old_key = request.cookies.get(COOKIE, "")
        # A new id at every change of rights, so an id seen before sign-in is worth nothing after it.
        key = secrets.token_urlsafe(32)
        with self._lock:
            current = self._sessions.pop(old_key, Session())
            if current.expires < time.time():
                current = Session()
            granted = replace(current, expires=time.time() + self.max_age, **changes)  # type: ignore[arg-type]
            self._sessions[key] = granted
            self._prune()
        response.set_cookie(COOKIE, key, max_age=int(self.max_age), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return granted

    def end(self, request: Request, response: Response) -> None:
        """Forget the request's session and clear its cookie."""
        with self._lock:
            self._sessions.pop(request.cookies.get(COOKIE, ""), None)
        response.delete_cookie(COOKIE, path="/")

    def _prune(self) -> None:
        now = time.time()
        if len(self._sessions) > MAX_SESSIONS:
            live = sorted(((s.expires, k) for k, s in self._sessions.items() if s.expires >= now), reverse=True)
            self._sessions = {k: self._sessions[k] for _, k in live[:MAX_SESSIONS]}


class SignIn:
    """The optional sign-in: who is signed in, the login page and routes, and the gate in front of the app."""

    def __init__(self, users: Users, sessions: Sessions, widget_public: bool, admin_token: str = "") -> None:
        self.users = users
        self.sessions = sessions
        self.widget_public = widget_public
        self.admin_token = admin_token
        self.limiter = RateLimiter(LOGIN_ATTEMPTS_PER_MINUTE)

    @property
    def enabled(self) -> bool:
        """Sign-in is on (at least one chat user is configured)."""
        return self.users.enabled

    def user(self, request: Request) -> str | None:
        """The signed-in user of a request: its session, or HTTP Basic credentials (scripts, gradio_client)."""
        session = self.sessions.of(request.cookies)
        if session.user:
            return session.user
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return name if self.users.check(name, password) else None

    def is_admin_call(self, request: Request) -> bool:
        """A script sending the admin token (`Authorization: Bearer`) may read what it may change."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given, expected = token.strip().encode(), self.admin_token.encode()
        return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given, expected)

    def router(self) -> APIRouter:
        """GET/POST /login and POST /logout."""
        from .api import ErrorOut  # the API's error shape (api.py imports this module)

        router = APIRouter()
        router.add_api_route("/login", self.login_page, methods=["GET"], include_in_schema=False)
        html_page = {"text/html": {"schema": {"type": "string"}}}
        retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        router.add_api_route("/login", self.login, methods=["POST"], status_code=303, response_class=RedirectResponse,
                             summary="Sign in (the login page's form): a session cookie and a redirect to `next`",
                             responses={303: {"description": "signed in: on to `next`"},
                                        401: {"description": "wrong name or password: the form again", "content": html_page},
                                        403: {"model": ErrorOut, "description": "the form was sent from another site"},
                                        404: {"model": ErrorOut, "description": "sign-in is off"},
                                        429: {"description": "too many attempts: the form again; see Retry-After", "content": html_page,
                                              "headers": retry_after}})
        router.add_api_route("/logout", self.logout, methods=["POST"], status_code=303, response_class=RedirectResponse,
                             summary="Sign out: the session ends (admin actions lock too)",
                             responses={303: {"description": "signed out: on to /login"},
                                        403: {"model": ErrorOut, "description": "the form was sent from another site"}})
        return router

    async def login_page(self, request: Request, next: str = "/") -> Response:
        """The sign-in form (or, with sign-in off, the chat)."""
        if not self.enabled:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(login_html(safe_next(next), error=""))

    async def login(self, request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1000),
                    next: str = Form("/", max_length=2000)) -> Response:
        """Check a name and password; on success a session cookie and a redirect to `next`."""
        if not self.enabled:
            return JSONResponse({"detail": "sign-in is off: set QA_CHAT_USERS or QA_CHAT_USERS_FILE to turn it on"}, status_code=404)
        target = safe_next(next)
        wait = self.limiter.acquire(request.client.host if request.client else "unknown")
        if wait:
            page = login_html(target, f"Too many attempts. Try again in {wait} seconds.", username)
            return HTMLResponse(page, status_code=429, headers={"Retry-After": str(wait)})
        if not self.users.check(username, password):
            return HTMLResponse(login_html(target, "Wrong name or password.", username), status_code=401)
        response = RedirectResponse(target, status_code=303)
        self.sessions.grant(request, response, user=username)
        return response

    async def logout(self, request: Request) -> RedirectResponse:
        """End this browser's session (signed in and admin alike)."""
        response = RedirectResponse("/login" if self.enabled else "/", status_code=303)
        self.sessions.end(request, response)
        return response

    def gate(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware: pages without a signed-in user go to /login, the reading API answers 401."""
        return _Gate(app, self)


def _needs_reader(path: str, method: str, widget_public: bool) -> str | None:
    """"page" or "api" when this request reads the documents and needs a signed-in user; else None."""
    if path in {"/", "/documents"} or (path in {"/embed", "/embed/"} and not widget_public):
        return "page" if method in {"GET", "HEAD"} else None
    if path == "/api/ask" or (path.startswith("/api/documents") and method in {"GET", "HEAD"}):
        return "api"
    return None


class _Gate:
    def __init__(self, app: ASGIApp, signin: SignIn) -> None:
        self.app = app
        self.signin = signin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.signin.enabled:
            kind = _needs_reader(scope["path"], scope["method"], self.signin.widget_public)
            request = Request(scope)
            if kind and self.signin.user(request) is None and not (kind == "api" and self.signin.is_admin_call(request)):
                if kind == "page":
                    target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
                    response: Response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                else:
                    response = JSONResponse({"detail": "sign in first: a session cookie from /login, or HTTP Basic credentials"},
                                            status_code=401, headers={"WWW-Authenticate": 'Basic realm="Document Q&A"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def safe_next(target: str) -> str:
    """A local path to go on to after sign-in; anything else (another site, a scheme) becomes `/`."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def exposed_without_sign_in(host: str, signin_enabled: bool, allowed_origins: tuple[str, ...]) -> bool:
    """True when the server listens beyond this machine with nobody asked to sign in and no origin list."""
    return host not in _LOOPBACK and not signin_enabled and not allowed_origins


def login_html(next_path: str, error: str, name: str = "") -> str:
    """The sign-in page: one form, its error said first (role=alert), light and dark."""
    alert = f'<p class="error" role="alert" id="error">{html.escape(error)}</p>' if error else ""
    described = ' aria-describedby="error"' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Document Q&amp;A</title>
<style>
:root {{ color-scheme: light dark; --fg: #18181b; --bg: #ffffff; --muted: #52525b; --line: #71717a; --accent: #c2410c; --error: #b91c1c; }}
@media (prefers-color-scheme: dark) {{ :root {{ --fg: #f4f4f5; --bg: #18181b; --muted: #d4d4d8; --line: #a1a1aa; --error: #fca5a5; }} }}
body {{ margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }}
main {{ max-width: 22rem; margin: 12vh auto 0; padding: 0 1.25rem; }}
h1 {{ font-size: 1.5rem; margin: 0 0 .25rem; }}
p {{ margin: 0 0 1rem; color: var(--muted); }}
label {{ display: block; font-weight: 600; margin: 1rem 0 .3rem; }}
input {{ box-sizing: border-box; width: 100%; padding: .55rem .7rem; font: inherit; color: inherit; background: transparent;
        border: 1px solid var(--line); border-radius: 8px; }}
input:focus-visible, button:focus-visible {{ outline: 2px solid var(--accent); outline-offset: 2px; }}
button {{ margin-top: 1.4rem; width: 100%; padding: .6rem 1rem; font: inherit; font-weight: 600; color: #fff;
         background: var(--accent); border: 0; border-radius: 8px; cursor: pointer; }}
button:hover {{ background: #9a3412; }}
.error {{ color: var(--error); font-weight: 600; }}
</style></head>
<body><main>
<h1>Sign in</h1>
<p>Document Q&amp;A answers from this team's documents. Sign in to ask.</p>
{alert}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label for="username">Name</label>
<input id="username" name="username" autocomplete="username" required value="{html.escape(name)}"{described}{"" if name else " autofocus"}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}{" autofocus" if name else ""}>
<button type="submit">Sign in</button>
</form>
</main></body></html>"""
