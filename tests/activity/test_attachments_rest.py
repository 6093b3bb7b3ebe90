"""Attachments over REST: streamed upload, sniffing, sanitising, limits, tenancy, scopes."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator

import httpx

from contacts_gateway.settings import Settings
from tests.activity.conftest import PNG, blob_dir, blob_files, make_activity, upload
from tests.conftest import Api
from tests.rest._support import assert_problem, make_contact


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


SNIFFED = [
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100, "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20, "image/gif"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
    (_zip(), "application/zip"),
    ("Bonjour, ça va ?\nLigne 2\n".encode(), "text/plain; charset=utf-8"),
    (b'  {"plan": "gold", "seats": [1, 2]}\n', "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"<html><script>alert(1)</script></html>", "text/plain; charset=utf-8"),
    (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    (b"caf\xe9 latin-1 is not UTF-8", "application/octet-stream"),
]


async def test_upload_sniffs_hashes_and_downloads(api: Api, settings: Settings) -> None:
    contact = await make_contact(api)
    for content, expected_type in SNIFFED:
        # The client always claims text/html: it is never believed.
        response = await upload(api, contact["id"], content, "file.bin", content_type="text/html")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["content_type"] == expected_type, content[:20]
        assert body["size"] == len(content)
        assert body["sha256"] == hashlib.sha256(content).hexdigest()
        assert body["activity_id"] is None
        assert body["id"].startswith("att_")
        assert body["download_url"] == f"/api/v2/attachments/{body['id']}/content"
        download = await api.get(body["download_url"])
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == expected_type
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"].startswith('attachment; filename="file.bin"')
    listed = (await api.get(f"/api/v2/contacts/{contact['id']}/attachments")).json()
    assert listed["total"] == len(SNIFFED) and len(listed["data"]) == len(SNIFFED)
    assert set(listed["data"][0]) == {
        "id",
        "activity_id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "created_at",
        "download_url",
    }
    # Newest first; the bytes are stored under the attachment id, nothing else is left over.
    assert [p.name for p in blob_files(settings)] == sorted(a["id"] for a in listed["data"])


async def test_filenames_are_sanitised(api: Api) -> None:
    contact = await make_contact(api)
    cases = {
        "../../etc/passwd": "passwd",
        "C:\\Users\\jane\\report.pdf": "report.pdf",
        "in\x07voice\u202e.txt": "invoice.txt",
        "  .hidden  ": "hidden",
        "...": "attachment",
        "/": "attachment",
        "résumé final.png": "résumé final.png",
        "a" * 300 + ".jpeg": "a" * 250 + ".jpeg",
        "b" * 300: "b" * 255,
    }
    for raw, expected in cases.items():
        # Built by hand: httpx would percent-encode the control characters itself.
        boundary = "bNd"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{raw}"\r\n\r\n'
            ).encode()
            + PNG
            + f"\r\n--{boundary}--\r\n".encode()
        )
        response = await api.post(
            f"/api/v2/contacts/{contact['id']}/attachments",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == expected, raw
    # Non-ASCII names travel in filename* (RFC 6266) with an ASCII fallback.
    listed = (await api.get(f"/api/v2/contacts/{contact['id']}/attachments?limit=100")).json()
    resume = next(a for a in listed["data"] if a["filename"] == "résumé final.png")
    header = (await api.get(resume["download_url"])).headers["content-disposition"]
    assert header == (
        "attachment; filename=\"r_sum_ final.png\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.png"
    )


async def test_activity_id_must_be_a_conversation_of_the_same_contact(
    api: Api, other_api: Api, settings: Settings
) -> None:
    jane, john = await make_contact(api), await make_contact(api, "John Doe")
    chat = await make_activity(api, jane["id"])
    ticket = await make_activity(api, jane["id"], type="ticket")
    johns_chat = await make_activity(api, john["id"])
    stranger = await make_contact(other_api, "Stranger")
    their_chat = await make_activity(other_api, stranger["id"])
    for bad in (ticket["id"], johns_chat["id"], their_chat["id"], "act_unknown", "x" * 41):
        response = await upload(api, jane["id"], activity_id=bad)
        assert_problem(response, 422, "validation_failed", "activity_id")
    assert blob_files(settings) == []  # refused before a byte was stored
    ok = await upload(api, jane["id"], activity_id=chat["id"])
    assert ok.status_code == 201 and ok.json()["activity_id"] == chat["id"]
    timeline = (await api.get(f"/api/v2/contacts/{jane['id']}/activity")).json()["data"]
    by_id = {i["id"]: i for i in timeline}
    assert [a["id"] for a in by_id[chat["id"]]["attachments"]] == [ok.json()["id"]]
    assert by_id[ticket["id"]]["attachments"] == []


async def test_activity_id_after_the_file_in_the_form_is_honoured(api: Api) -> None:
    contact = await make_contact(api)
    chat = await make_activity(api, contact["id"])
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="activity_id"\r\n\r\n'
            f"{chat['id']}\r\n--{boundary}--\r\n"
        ).encode()
    )
    response = await api.post(
        f"/api/v2/contacts/{contact['id']}/attachments",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["activity_id"] == chat["id"]


async def test_bad_forms_are_422_and_leave_nothing(api: Api, settings: Settings) -> None:
    contact = await make_contact(api)
    url = f"/api/v2/contacts/{contact['id']}/attachments"
    assert_problem(await api.post(url, data={"activity_id": ""}), 422, "validation_failed", "body")
    only_field = b'--b\r\nContent-Disposition: form-data; name="activity_id"\r\n\r\n\r\n--b--\r\n'
    response = await api.post(
        url, content=only_field, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_problem(response, 422, "validation_failed", "file")
    assert_problem(await upload(api, contact["id"], b""), 422, "validation_failed", "file")
    response = await api.post(url, files={"file": ("a.png", PNG)}, data={"note": "hi"})
    assert_problem(response, 422, "validation_failed", "note")
    response = await api.post(url, files=[("file", ("a.png", PNG)), ("file", ("b.png", PNG))])
    assert_problem(response, 422, "validation_failed", "file")
    response = await api.post(url, json={"file": "aGVsbG8="})
    assert_problem(response, 422, "validation_failed", "body")
    response = await api.post(
        url,
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_problem(response, 422, "validation_failed")
    response = await api.post(
        url, content=b"--b--\r\n", headers={"content-type": "multipart/form-data"}
    )  # no boundary
    assert_problem(response, 422, "validation_failed", "body")
    assert (await api.get(url)).json()["total"] == 0
    assert blob_files(settings) == []


async def test_file_over_the_limit_is_413_without_a_partial_file(
    limited_api: Api, settings: Settings
) -> None:
    contact = await make_contact(limited_api)
    url = f"/api/v2/contacts/{contact['id']}/attachments"
    # Just over the file limit (4096): the route's streaming check refuses it.
    response = await upload(limited_api, contact["id"], b"a" * 4097)
    body = assert_problem(response, 413, "payload_too_large", "file")
    assert "4096" in body["detail"]
    # Far over: refused by the upload body limit from Content-Length, before reading.
    assert_problem(
        await upload(limited_api, contact["id"], b"a" * 200_000), 413, "payload_too_large"
    )

    async def chunked() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for _ in range(100):
            yield b"z" * 4096

    # No Content-Length: refused while streaming.
    response = await limited_api.post(
        url, content=chunked(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_problem(response, 413, "payload_too_large")
    # Exactly at the limit is fine.
    assert (await upload(limited_api, contact["id"], b"a" * 4096)).status_code == 201
    assert len(blob_files(settings)) == 1
    assert not [p for p in blob_dir(settings).iterdir() if p.name.startswith(".tmp-")]
    assert (await limited_api.get(url)).json()["total"] == 1


async def test_json_routes_keep_their_small_limit(api: Api, settings: Settings) -> None:
    contact = await make_contact(api)
    big = {"type": "call", "occurred_at": "2026-01-15T10:00:00Z", "summary": "x" * 2_000_000}
    response = await api.post(f"/api/v2/contacts/{contact['id']}/activity", json=big)
    assert_problem(response, 413, "payload_too_large")
    # A multipart body to a non-upload route gets the JSON limit too.
    response = await api.post(
        f"/api/v2/contacts/{contact['id']}/activity", files={"file": ("a", b"a" * 2_000_000)}
    )
    assert_problem(response, 413, "payload_too_large")


async def test_tenancy(api: Api, other_api: Api, settings: Settings) -> None:
    mine = await make_contact(api)
    theirs = await make_contact(other_api, "Other Person")
    their_file = (await upload(other_api, theirs["id"])).json()
    assert_problem(await upload(api, theirs["id"]), 404, "not_found")
    assert_problem(await upload(api, "ct_unknown"), 404, "not_found")
    assert_problem(await api.get(f"/api/v2/contacts/{theirs['id']}/attachments"), 404, "not_found")
    assert_problem(await api.get(their_file["download_url"]), 404, "not_found")
    assert_problem(await api.get("/api/v2/attachments/att_unknown/content"), 404, "not_found")
    assert (await api.get(f"/api/v2/contacts/{mine['id']}/attachments")).json()["total"] == 0
    assert (await other_api.get(their_file["download_url"])).content == PNG
    assert len(blob_files(settings)) == 1


async def test_scopes(api: Api, reader: Api, writer: Api, anonymous: Api) -> None:
    contact = await make_contact(api)
    stored = (await upload(api, contact["id"])).json()
    assert_problem(await upload(reader, contact["id"]), 403, "forbidden")
    assert_problem(await upload(anonymous, contact["id"]), 401, "unauthenticated")
    url = f"/api/v2/contacts/{contact['id']}/attachments"
    assert_problem(await writer.get(url), 403, "forbidden")
    assert_problem(await writer.get(stored["download_url"]), 403, "forbidden")
    assert_problem(await anonymous.get(stored["download_url"]), 401, "unauthenticated")
    assert (await upload(writer, contact["id"])).status_code == 201
    assert (await reader.get(url)).json()["total"] == 2
    assert (await reader.get(stored["download_url"])).content == PNG


async def test_missing_bytes_answer_404_not_500(api: Api, settings: Settings) -> None:
    contact = await make_contact(api)
    stored = (await upload(api, contact["id"])).json()
    (blob_dir(settings) / stored["id"]).unlink()
    body = assert_problem(await api.get(stored["download_url"]), 404, "not_found")
    assert "no longer stored" in body["detail"]


async def test_paging_of_attachments(api: Api) -> None:
    contact = await make_contact(api)
    ids = [(await upload(api, contact["id"])).json()["id"] for _ in range(3)]
    url = f"/api/v2/contacts/{contact['id']}/attachments"
    page = (await api.get(f"{url}?limit=2&offset=1")).json()
    assert [a["id"] for a in page["data"]] == list(reversed(ids))[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    for query, field in (("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset")):
        assert_problem(await api.get(f"{url}?{query}"), 422, "validation_failed", field)


__all__ = ["httpx"]
