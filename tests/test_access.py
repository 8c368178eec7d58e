"""Admin access on a real server: upload and delete refuse every token but the configured one,
and the token never leaks into pages, the schema, the index folder or the server's output.
(No token configured -> 403 is in test_api.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import AppServer

TOKEN = "access-admin-token-e81d2a"
SEED_DOC = "000_5b672d860f205277.txt"
FACT = b"The Harrow Point lighthouse was automated in 1987.\n"
WRONG_CREDENTIALS = {
    "no header": {},
    "empty bearer": {"Authorization": "Bearer"},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "token plus a character": {"Authorization": f"Bearer {TOKEN}x"},
    "token minus a character": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "token in upper case": {"Authorization": f"Bearer {TOKEN.upper()}"},
    "token without a scheme": {"Authorization": TOKEN},
    "another scheme": {"Authorization": f"Token {TOKEN}"},
    "token twice": {"Authorization": f"Bearer {TOKEN} {TOKEN}"},
    "another header": {"X-Admin-Token": TOKEN},
}


@pytest.fixture(scope="module")
def access_app(tmp_path_factory) -> Iterator[AppServer]:
    """A private app with an admin token; its stdout and stderr are captured (AppServer pipes them)."""
    server = AppServer(tmp_path_factory.mktemp("access-app"), {"QA_ADMIN_TOKEN": TOKEN})
    yield server
    server.stop()


def document_ids(server: AppServer) -> list[str]:
    return [d["doc_id"] for d in httpx.get(server.url + "/api/documents", timeout=30).json()["documents"]]


@pytest.mark.parametrize("credentials", WRONG_CREDENTIALS)
def test_upload_and_delete_refuse_anything_but_the_token(access_app, credentials) -> None:
    headers = WRONG_CREDENTIALS[credentials]
    before = document_ids(access_app)
    upload = httpx.post(access_app.url + "/api/documents", files={"files": ("light.txt", FACT)}, headers=headers, timeout=30)
    delete = httpx.delete(f"{access_app.url}/api/documents/{SEED_DOC}", headers=headers, timeout=30)
    for response in (upload, delete):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "QA_ADMIN_TOKEN" in response.json()["detail"] and TOKEN not in response.text
    assert document_ids(access_app) == before
    assert not (access_app.index_dir / "uploads").exists()


def test_the_token_is_not_in_pages_or_the_schema(access_app) -> None:
    for path in ("/", "/embed/", "/config", "/embed/config", "/openapi.json", "/docs", "/healthz", "/widget.js"):
        response = httpx.get(access_app.url + path, timeout=30)
        assert response.status_code == 200, path
        assert TOKEN not in response.text, path


def test_the_token_never_reaches_the_logs_or_the_index(access_app) -> None:
    url = access_app.url + "/api/documents"
    admin = {"Authorization": f"Bearer {TOKEN}"}
    added = httpx.post(url, files={"files": ("light.txt", FACT)}, headers=admin, timeout=60)
    assert added.status_code == 201, added.text
    refused = httpx.post(url, files={"files": ("tool.exe", b"MZ")}, headers=admin, timeout=60)
    assert refused.status_code == 422
    for headers in WRONG_CREDENTIALS.values():
        assert httpx.delete(url + "/uploads/light.txt", headers=headers, timeout=30).status_code == 401
    assert httpx.delete(url + "/uploads/light.txt", headers=admin, timeout=30).status_code == 200
    assert httpx.post(access_app.url + "/api/ask", json={"question": f"Bearer {TOKEN[:4]}?"}, timeout=60).status_code == 200

    access_app.stop()
    output = access_app.process.stdout.read()
    assert "Serving on" in output  # the capture works: the start-up line is there
    assert TOKEN not in output and TOKEN[:-1] not in output
    stored = [p for p in access_app.index_dir.parent.rglob("*") if p.is_file()]
    assert stored and not [p for p in stored if TOKEN.encode() in p.read_bytes()]
