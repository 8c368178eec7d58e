"""The REST API over HTTP against real `python app.py` servers: contract, errors, auth, uploads, origins, limits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.models import Answer, Citation, Segment
from tests.conftest import AppServer

ARRESTS = "How many people were arrested on Nov. 15?"
SEED_DOC = "000_5b672d860f205277.txt"
TOKEN = "test-admin-token-5f1c"
ALLOWED = "http://allowed.example"
REFUSED = "http://refused.example"
RATE_LIMIT = 3
FACT = (
    "The Glimmerwick lantern fair in Oskarbay draws exactly 4,271 visitors every March.\n\n"
    "Most of the visitors arrive by ferry from the mainland.\n"
)
FESTIVAL_QUESTION = "How many visitors does the Glimmerwick lantern fair draw?"


def client(local_address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `local_address` (any 127.x address is loopback), so
    tests can act as distinct clients for the per-client rate limit."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=local_address), timeout=60)


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory) -> Iterator[AppServer]:
    """A private app with an admin token, one extra allowed origin and a low rate limit."""
    server = AppServer(
        tmp_path_factory.mktemp("api-app"),
        {"QA_ADMIN_TOKEN": TOKEN, "QA_ALLOWED_ORIGINS": ALLOWED, "QA_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT)},
    )
    yield server
    server.stop()


def test_openapi_documents_every_answer_field(app_server):
    schema = httpx.get(app_server.url + "/openapi.json", timeout=30).json()
    components = schema["components"]["schemas"]
    ok = schema["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    answer = components[ok["$ref"].rsplit("/", 1)[1]]
    assert list(answer["properties"]) == [f.name for f in dataclasses.fields(Answer)]
    citation = components[answer["properties"]["citations"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert list(citation["properties"]) == [f.name for f in dataclasses.fields(Citation)]
    segment = components[answer["properties"]["segments"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert list(segment["properties"]) == [f.name for f in dataclasses.fields(Segment)]


def test_ask_returns_the_same_json_as_the_cli(app_server, capsys):
    from qa.cli import main

    response = httpx.post(app_server.url + "/api/ask", json={"question": ARRESTS}, timeout=60)
    assert response.status_code == 200
    api = response.json()
    assert main(["ask", "--json", ARRESTS, "--index-dir", str(app_server.index_dir)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert list(api) == list(cli)
    assert set(api["timings_ms"]) == set(cli["timings_ms"])
    api.pop("timings_ms"), cli.pop("timings_ms")
    assert api == cli
    assert api["short_answer"] == "more than 12,000"
    assert api["citations"][0]["doc_id"] == SEED_DOC and api["citations"][0]["highlights"]


def test_follow_up_history_and_top_k_are_used(app_server):
    body = {
        "question": "How many were killed?",
        "history": [{"role": "user", "content": ARRESTS}, {"role": "assistant", "content": "more than 12,000"}],
        "top_k": 2,
    }
    answer = httpx.post(app_server.url + "/api/ask", json=body, timeout=60).json()
    assert len(answer["citations"]) <= 2
    assert "1,500" in answer["answer"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n"}, "question"),
        ({"question": 42}, "question"),
        ({}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "ok?", "top_k": "five"}, "top_k"),
        ({"question": "ok?", "top_k": 0}, "top_k"),
        ({"question": "ok?", "history": [{"role": "system", "content": "obey"}]}, "history"),
        ({"question": "ok?", "history": "not a list"}, "history"),
        ({"question": "ok?", "qestion": "typo"}, "qestion"),
    ],
)
def test_bad_ask_bodies_are_422_naming_the_field(app_server, body, field):
    response = httpx.post(app_server.url + "/api/ask", json=body, timeout=60)
    assert response.status_code == 422, response.text
    assert any(error["loc"][:2] == ["body", field] for error in response.json()["detail"]), response.text


def test_malformed_json_and_oversized_bodies_are_4xx(app_server):
    url = app_server.url + "/api/ask"
    malformed = httpx.post(url, content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    huge = b'{"question": "' + b"a" * (11 * 1024 * 1024) + b'"}'
    declared = httpx.post(url, content=huge, headers={"Content-Type": "application/json"}, timeout=60)
    assert declared.status_code == 413
    assert "QA_MAX_REQUEST_BYTES" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is only known while reading
        for start in range(0, len(huge), 1 << 20):
            yield huge[start : start + (1 << 20)]

    streamed = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"}, timeout=60)
    assert streamed.status_code == 413
    assert httpx.get(app_server.url + "/healthz").json()["status"] == "ready"


def test_documents_list_and_text(app_server):
    listed = httpx.get(app_server.url + "/api/documents").json()["documents"]
    assert sorted(d["doc_id"] for d in listed) == sorted(p.name for p in (Path(__file__).parent.parent / "seeds").glob("*.txt"))
    assert all(d["chunks"] > 0 and d["title"] and d["indexed_at"] > 0 for d in listed)
    answer = httpx.post(app_server.url + "/api/ask", json={"question": ARRESTS}, timeout=60).json()
    cited = answer["citations"][0]
    document = httpx.get(f"{app_server.url}/api/documents/{cited['doc_id']}").json()
    start, end = cited["highlights"][0]
    assert "12,000" in document["text"][start:end]
    assert "root" not in document
    missing = httpx.get(app_server.url + "/api/documents/no/such/doc.txt")
    assert missing.status_code == 404 and "no/such/doc.txt" in missing.json()["detail"]


def test_health_reports_counts(app_server):
    health = httpx.get(app_server.url + "/healthz").json()
    assert health["status"] == "ready" and health["documents"] == 2 and health["chunks"] > 0


def test_admin_endpoints_are_off_without_a_configured_token(app_server, tmp_path):
    before = httpx.get(app_server.url + "/api/documents").json()
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer anything"}):
        upload = httpx.post(app_server.url + "/api/documents", files={"files": ("a.txt", FACT.encode())}, headers=headers)
        assert upload.status_code == 403 and "QA_ADMIN_TOKEN" in upload.json()["detail"]
        delete = httpx.delete(f"{app_server.url}/api/documents/{SEED_DOC}", headers=headers)
        assert delete.status_code == 403
    assert httpx.get(app_server.url + "/api/documents").json() == before
    assert not (app_server.index_dir / "uploads").exists()


def test_default_origins_are_the_app_itself_only(app_server):
    url = app_server.url + "/api/ask"
    same = httpx.post(url, json={"question": ARRESTS}, headers={"Origin": app_server.url}, timeout=60)
    assert same.status_code == 200
    preflight = httpx.options(url, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    embed = httpx.get(app_server.url + "/embed/")
    assert embed.status_code == 200
    assert embed.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_gradio_ask_endpoint_works_through_the_mounts(app_server):
    from gradio_client import Client

    for path in ("/", "/embed/"):
        result = Client(app_server.url + path, verbose=False).predict(ARRESTS, api_name="/ask")
        assert result["short_answer"] == "more than 12,000", path


def test_upload_ask_delete_with_the_admin_token(admin_app):
    url = admin_app.url + "/api/documents"
    files = {"files": ("../../outside/glimmer fair!.txt", FACT.encode())}
    with client() as http:
        assert http.post(url, files=files).status_code == 401
        assert http.post(url, files=files, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.post(url, files=files, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        admin = {"Authorization": f"Bearer {TOKEN}"}

        bad = http.post(url, files={"files": ("tool.exe", b"MZ\x00\x00")}, headers=admin)
        assert bad.status_code == 422 and "tool.exe" in bad.text and bad.json()["detail"][0]["loc"] == ["body", "files"]
        empty = http.post(url, headers=admin)
        assert empty.status_code == 422 and "files" in empty.text

        created = http.post(url, files=files, headers=admin)
        assert created.status_code == 201, created.text
        doc_id = "uploads/glimmer fair_.txt"
        assert created.json()["added"] == [doc_id]
        uploads = admin_app.index_dir / "uploads"
        assert [p.name for p in uploads.iterdir()] == ["glimmer fair_.txt"]
        assert not (admin_app.index_dir.parent / "outside").exists()
        again = http.post(url, files=files, headers=admin).json()
        assert again["unchanged"] == [doc_id] and again["added"] == []

        answer = http.post(admin_app.url + "/api/ask", json={"question": FESTIVAL_QUESTION}).json()
        assert not answer["abstained"] and "4,271" in answer["answer"]
        cited = [c for c in answer["citations"] if c["highlights"]]
        assert cited and cited[0]["doc_id"] == doc_id
        assert doc_id in [d["doc_id"] for d in http.get(url).json()["documents"]]

        assert http.delete(f"{url}/{doc_id}").status_code == 401
        deleted = http.delete(f"{url}/{doc_id}", headers=admin)
        assert deleted.status_code == 200 and deleted.json() == {"removed": [doc_id]}
        assert list(uploads.iterdir()) == []
        assert http.delete(f"{url}/{doc_id}", headers=admin).status_code == 404
        assert doc_id not in [d["doc_id"] for d in http.get(url).json()["documents"]]
        after = http.post(admin_app.url + "/api/ask", json={"question": FESTIVAL_QUESTION}).json()
        assert doc_id not in [c["doc_id"] for c in after["citations"]]
        assert "4,271" not in after["answer"]


def test_cors_allows_listed_origins_and_refuses_others(admin_app):
    url = admin_app.url + "/api/ask"
    with client("127.0.0.2") as http:
        preflight = http.options(url, headers={
            "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
        allowed = http.post(url, json={"question": ARRESTS}, headers={"Origin": ALLOWED})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED
        assert allowed.json()["short_answer"] == "more than 12,000"

        refused_preflight = http.options(url, headers={"Origin": REFUSED, "Access-Control-Request-Method": "POST"})
        assert refused_preflight.status_code == 403
        assert "access-control-allow-origin" not in refused_preflight.headers
        refused = http.post(url, json={"question": ARRESTS}, headers={"Origin": REFUSED})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert "QA_ALLOWED_ORIGINS" in refused.json()["detail"] and "answer" not in refused.json()

        policy = http.get(admin_app.url + "/embed/").headers["content-security-policy"]
        assert policy == f"frame-ancestors 'self' {ALLOWED}"


def test_rate_limit_is_per_client_with_retry_after(admin_app):
    url = admin_app.url + "/api/ask"
    with client("127.0.0.3") as busy, client("127.0.0.4") as other:
        statuses = [busy.post(url, json={"question": ARRESTS}).status_code for _ in range(RATE_LIMIT)]
        assert statuses == [200] * RATE_LIMIT
        limited = busy.post(url, json={"question": ARRESTS})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert f"{RATE_LIMIT} per minute" in limited.json()["detail"]
        assert other.post(url, json={"question": ARRESTS}).status_code == 200


def test_origin_matching_follows_browser_origins():
    from qa.web.origins import OriginPolicy

    policy = OriginPolicy.from_settings(("https://Docs.Example.com:443", "http://127.0.0.1:8080"))
    assert policy.allows("https://docs.example.com", None)
    assert policy.allows("http://127.0.0.1:8080", None)
    assert not policy.allows("http://docs.example.com", None)  # another scheme is another origin
    assert not policy.allows("https://evil.docs.example.com", None)
    assert not policy.allows("null", None)
    assert policy.allows("http://app.example:7860", "app.example:7860")  # the app's own origin
    assert not OriginPolicy.from_settings(()).allows("http://app.example:7861", "app.example:7860")
    assert OriginPolicy.from_settings(("*",)).allows("http://anywhere.example", None)
    assert policy.frame_ancestors() == "frame-ancestors 'self' http://127.0.0.1:8080 https://docs.example.com"


def test_a_malformed_allowed_origin_stops_the_server_with_a_reason(monkeypatch, tmp_path, capsys):
    from qa.cli import main

    monkeypatch.setenv("QA_ALLOWED_ORIGINS", "docs.example.com")
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path))
    assert main(["serve", "--port", "1"]) == 2
    assert "QA_ALLOWED_ORIGINS" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
