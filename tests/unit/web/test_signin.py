"""Password hashes, users entries, sessions and the sign-in rules, without a server."""

from __future__ import annotations

import time

import pytest
from fastapi import Request
from fastapi.responses import Response

from qa.config import Settings
from qa.errors import SettingsError
from qa.web.signin import COOKIE, Sessions, exposed_without_sign_in, safe_next
from qa.web.users import Users, add_user, hash_password, load_users, verify_password


def test_hashes_are_salted_scrypt_and_verify_only_the_right_password() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$16384$8$1$") and first != second  # a new salt each time
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first) and not verify_password("", first)
    assert "correct horse" not in first


def test_users_come_from_the_variable_and_the_file(tmp_path) -> None:
    users_file = tmp_path / "users.txt"
    add_user("bob", "b-pass", users_file)
    add_user("bob", "b-pass-2", users_file)  # replaces bob's line
    assert users_file.read_text().count("bob:") == 1 and oct(users_file.stat().st_mode)[-3:] == "600"
    settings = Settings.from_env({"QA_CHAT_USERS": add_user("alice", "a-pass", None), "QA_CHAT_USERS_FILE": str(users_file)})
    users = Users(load_users(settings.server))
    assert users.enabled and sorted(users.users) == ["alice", "bob"]
    assert users.check("alice", "a-pass") and users.check("bob", "b-pass-2")
    assert users.check("alice", "a-pass")  # the second time from the remembered digest
    assert not users.check("bob", "b-pass") and not users.check("carol", "a-pass") and not users.check("alice", "")
    assert not Users({}).enabled


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"QA_CHAT_USERS": "alice:plain-password"}, "Passwords are stored hashed"),
        ({"QA_CHAT_USERS": "al ice:scrypt$16384$8$1$AAAA$AAAA"}, "not a `name:scrypt$...` entry"),
        ({"QA_CHAT_USERS": "alice:scrypt$16384$8$1$!!$AAAA"}, "damaged"),
        ({"QA_CHAT_USERS_FILE": "/no/such/users.txt"}, "cannot be read"),
    ],
)
def test_a_bad_users_entry_stops_the_start_with_what_to_do(environ: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match="QA_CHAT_USERS") as raised:
        load_users(Settings.from_env(environ).server)
    assert words in str(raised.value)


def request_with(cookie: str | None = None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "scheme": "http",
                    "server": ("127.0.0.1", 80), "query_string": b""})


def cookie_of(response: Response) -> str:
    return response.headers["set-cookie"].split(";")[0].split("=", 1)[1]


def test_sessions_are_random_ids_that_change_with_rights_and_expire() -> None:
    sessions = Sessions(max_age_seconds=3600)
    assert sessions.of({}) == sessions.of({COOKIE: "made-up"}) and not sessions.of({}).user
    first = Response()
    sessions.grant(request_with(), first, user="alice")
    signed_in = cookie_of(first)
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=lax" in first.headers["set-cookie"]
    assert sessions.of({COOKIE: signed_in}).user == "alice"
    second = Response()
    sessions.grant(request_with(signed_in), second, admin=True)
    unlocked = cookie_of(second)
    assert unlocked != signed_in and not sessions.of({COOKIE: signed_in}).user  # the old id is worth nothing now
    assert sessions.of({COOKIE: unlocked}).user == "alice" and sessions.of({COOKIE: unlocked}).admin
    ended = Response()
    sessions.end(request_with(unlocked), ended)
    assert not sessions.of({COOKIE: unlocked}).admin
    short = Sessions(max_age_seconds=0.01)
    response = Response()
    short.grant(request_with(), response, user="bob")
    time.sleep(0.05)
    assert short.of({COOKIE: cookie_of(response)}).user is None


def test_after_sign_in_only_local_paths_are_followed() -> None:
    assert safe_next("/documents?x=1") == "/documents?x=1"
    for hostile in ("https://evil.test/", "//evil.test", "/\\evil.test", "javascript:alert(1)", "/a\nb", ""):
        assert safe_next(hostile) == "/"


def test_the_start_warns_only_when_reachable_with_neither_sign_in_nor_origins() -> None:
    assert exposed_without_sign_in("0.0.0.0", False, ())
    assert not exposed_without_sign_in("127.0.0.1", False, ())
    assert not exposed_without_sign_in("0.0.0.0", True, ())
    assert not exposed_without_sign_in("0.0.0.0", False, ("https://www.example.com",))
