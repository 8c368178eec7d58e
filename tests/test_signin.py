"""Optional sign-in on a real server: pages go to /login, the reading API and Gradio's routes answer 401,
the login form signs in (and says plainly when it does not), and the signed-in chat answers in Chromium."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.web.users import add_user
from tests.conftest import AppServer, screenshot_path, serious_violations

PASSWORD = "tea-for-two-7781"
ARRESTS = "How many people were arrested on Nov. 15?"


@pytest.fixture(scope="module")
def signin_app(tmp_path_factory) -> Iterator[AppServer]:
    """An app with one chat user (hashed in a users file) and one in QA_CHAT_USERS."""
    base = tmp_path_factory.mktemp("signin-app")
    users = base / "users.txt"
    add_user("alice", PASSWORD, users)
    server = AppServer(base, {"QA_CHAT_USERS_FILE": str(users), "QA_CHAT_USERS": add_user("bob", "bob-secret-2", None)})
    yield server
    server.stop()


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def test_without_sign_in_pages_redirect_and_the_reading_api_refuses(signin_app) -> None:
    with httpx.Client(base_url=signin_app.url, timeout=60) as client:
        for path in ("/", "/documents", "/embed/"):
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
        for method, path in (("POST", "/api/ask"), ("GET", "/api/documents"), ("GET", "/api/documents/000_5b672d860f205277.txt")):
            response = client.request(method, path, json={"question": ARRESTS} if method == "POST" else None)
            assert response.status_code == 401 and "WWW-Authenticate" in response.headers, path
        for path in ("/config", "/gradio_api/info", "/embed/config"):
            assert client.get(path).status_code == 401, path
        assert client.get("/healthz").status_code == 200 and client.get("/widget.js").status_code == 200
        assert client.get("/login").status_code == 200
        # HTTP Basic credentials of a user answer a script; a wrong password does not.
        answer = client.post("/api/ask", json={"question": ARRESTS}, headers=basic("bob", "bob-secret-2"))
        assert answer.status_code == 200 and answer.json()["short_answer"] == "more than 12,000"
        assert client.post("/api/ask", json={"question": ARRESTS}, headers=basic("bob", "wrong")).status_code == 401


def test_the_login_form_signs_in_and_a_wrong_password_gets_the_form_again(signin_app) -> None:
    with httpx.Client(base_url=signin_app.url, timeout=60) as client:
        wrong = client.post("/login", data={"username": "alice", "password": "nope", "next": "/documents"})
        assert wrong.status_code == 401 and "Wrong name or password." in wrong.text and 'value="alice"' in wrong.text
        assert "qa_session" not in wrong.headers.get("set-cookie", "")
        outside = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "https://evil.test/"})
        assert outside.status_code == 303 and outside.headers["location"] == "/"
        cookie = outside.headers["set-cookie"]
        assert cookie.startswith("qa_session=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert PASSWORD not in cookie
        assert client.get("/").status_code == 200 and client.get("/config").status_code == 200
        assert client.post("/api/ask", json={"question": ARRESTS}).json()["short_answer"] == "more than 12,000"
        # Another site's page cannot post the form (no login CSRF).
        assert client.post("/login", data={"username": "alice", "password": PASSWORD},
                           headers={"Origin": "http://evil.test"}).status_code == 403
        assert client.post("/logout").status_code == 303
        assert client.get("/").status_code == 303


def test_a_signed_in_browser_asks_and_the_sign_in_page_passes_axe(browser, signin_app, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(signin_app.url + "/documents")
        assert page.url.startswith(signin_app.url + "/login?next=")
        assert serious_violations(page) == []
        page.get_by_label("Name").fill("alice")
        page.get_by_label("Password").fill("not-it")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").inner_text() == "Wrong name or password."
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshot_path(tmp_path, "sign-in.png")))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(signin_app.url + "/documents")
        page.goto(signin_app.url + "/")
        page.get_by_text("Signed in as alice").wait_for()
        box = page.locator("#qa-question textarea")
        box.fill(ARRESTS)
        box.press("Enter")
        assert page.locator("#qa-chat .qa-short-text").first.inner_text() == "more than 12,000"
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(signin_app.url + "/login")
    finally:
        context.close()
