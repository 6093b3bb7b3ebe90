"""``/api/v2/contacts/{id}/attachments`` (streamed multipart upload, list) and downloads."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from db.queries.attachments import AttachmentRecord
from resolvers import attachments
from resolvers.blobstore import StagedBlob, blob_store_of
from resolvers.errors import ValidationFailed
from resolvers.pagination import DEFAULT_PAGE, MAX_PAGE, PageRequest
from resolvers.timestamps import iso_z
from rest_compat.deps import Ctx
from rest_compat.models import COMMON_ERRORS, problems
from rest_compat.responses import JSONBytes

router = APIRouter(tags=["attachments"])

MAX_FIELD_BYTES = 1024
FORM_FIELDS = ("file", "activity_id")


class Attachment(BaseModel):
    id: str = Field(examples=["att_01jh8x2k3m4n5p6q7r8s9t0v1w"])
    activity_id: str | None
    filename: str = Field(description="Sanitised: no directories, no control characters")
    content_type: str = Field(description="Sniffed from the bytes, never taken from the client")
    size: int
    sha256: str
    created_at: datetime
    download_url: str = Field(examples=["/api/v2/attachments/att_…/content"])


class AttachmentList(BaseModel):
    data: list[Attachment]
    total: int
    limit: int
    offset: int


def attachment_json(a: AttachmentRecord) -> dict[str, Any]:
    """An attachment as REST returns it."""
    return {
        "id": a.id,
        "activity_id": a.activity_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "created_at": iso_z(a.created_at),
        "download_url": attachments.download_url(a.id),
    }


# ---------------------------------------------------------------- streaming multipart


@dataclass(slots=True)
class _Part:
    name: str = ""
    filename: str | None = None
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Event:
    kind: str  # "field", "file_start", "file_data", "file_end"
    part: _Part
    data: bytes = b""


class _StreamingForm:
    """Parses ``multipart/form-data`` as it arrives; file bytes are never accumulated."""

    def __init__(self, request: Request) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or b"boundary" not in params:
            raise ValidationFailed(
                "send multipart/form-data with the file in the field 'file'", field="body"
            )
        self.request = request
        self.events: list[_Event] = []
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.parser = MultipartParser(
            params[b"boundary"],
            {
                "on_part_begin": self._begin,
                "on_part_data": self._data,
                "on_part_end": self._end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    def _begin(self) -> None:
        self.part = _Part()
        self.disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name")
        if name is None:
            raise ValidationFailed("a form part has no name", field="body")
        self.part.name = name.decode("utf-8", "replace")
        if self.part.name not in FORM_FIELDS:
            raise ValidationFailed("unknown field", field=self.part.name[:64])
        raw_filename = options.get(b"filename")
        self.part.filename = (
            raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        )
        self.part.is_file = self.part.name == "file"
        if self.part.is_file:
            self.events.append(_Event("file_start", self.part))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            self.events.append(_Event("file_data", self.part, data[start:end]))
            return
        self.part.data += data[start:end]
        if len(self.part.data) > MAX_FIELD_BYTES:
            raise ValidationFailed(f"at most {MAX_FIELD_BYTES} bytes", field=self.part.name)

    def _end(self) -> None:
        self.events.append(_Event("file_end" if self.part.is_file else "field", self.part))

    async def __aiter__(self) -> AsyncIterator[_Event]:
        try:
            async for chunk in self.request.stream():
                self.parser.write(chunk)
                while self.events:
                    yield self.events.pop(0)
            self.parser.finalize()
        except FormParserError as exc:
            raise ValidationFailed("the multipart body is malformed", field="body") from exc
        while self.events:
            yield self.events.pop(0)


async def _file_bytes(events: AsyncIterator[_Event]) -> AsyncIterator[bytes]:
    async for event in events:
        if event.kind == "file_data":
            yield event.data
        elif event.kind == "file_end":
            return
    raise ValidationFailed("the multipart body ended inside the file", field="file")


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "activity_id": {
                            "type": "string",
                            "description": "a conversation of the same contact",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/api/v2/contacts/{contact_id}/attachments",
    status_code=201,
    response_model=Attachment,
    responses=problems(*COMMON_ERRORS, 404, 413),
    summary="Upload a file (multipart: `file`, optional `activity_id`); streamed to the store",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_attachment(ctx: Ctx, request: Request, contact_id: str) -> Response:
    form = _StreamingForm(request)
    events = aiter(form)
    fields: dict[str, str] = {}
    staged: StagedBlob | None = None
    filename: str | None = None
    try:
        async for event in events:
            if event.kind == "field":
                if event.part.name in fields:
                    raise ValidationFailed("given twice", field=event.part.name)
                fields[event.part.name] = event.part.data.decode("utf-8", "replace")
            elif event.kind == "file_start":
                if staged is not None:
                    raise ValidationFailed("send exactly one file", field="file")
                filename = event.part.filename
                staged = await attachments.stage_upload(
                    ctx,
                    contact_id=contact_id,
                    content=_file_bytes(events),
                    activity_id=fields.get("activity_id"),
                )
        if staged is None:
            raise ValidationFailed("a file is required in the field 'file'", field="file")
        record = await attachments.finish_upload(
            ctx,
            contact_id=contact_id,
            staged=staged,
            filename=filename,
            activity_id=fields.get("activity_id"),
        )
    except BaseException:
        if staged is not None:
            await blob_store_of(ctx.extras).discard(staged)
        raise
    return JSONBytes(attachment_json(record), status_code=201)


@router.get(
    "/api/v2/contacts/{contact_id}/attachments",
    response_model=AttachmentList,
    responses=problems(*COMMON_ERRORS, 404),
    summary="List a contact's attachments, newest first",
)
async def list_attachments(
    ctx: Ctx,
    contact_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await attachments.list_attachments(
        ctx, contact_id=contact_id, page=PageRequest.rest(limit, offset)
    )
    return JSONBytes(
        {
            "data": [attachment_json(a) for a in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;' else "_" for ch in filename
    )
    quoted = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


@router.get(
    "/api/v2/attachments/{attachment_id}/content",
    responses={
        200: {
            "description": "The bytes, with the sniffed content type",
            "content": {"application/octet-stream": {}},
        },
        **problems(*COMMON_ERRORS, 404),
    },
    summary="Download an attachment's bytes",
)
async def download_attachment(ctx: Ctx, attachment_id: str) -> Response:
    record, chunks = await attachments.open_content(ctx, attachment_id=attachment_id)
    return StreamingResponse(
        chunks,
        media_type=record.content_type,
        headers={
            "Content-Disposition": content_disposition(record.filename),
            "Content-Length": str(record.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "ETag": f'"{record.sha256}"',
        },
    )
