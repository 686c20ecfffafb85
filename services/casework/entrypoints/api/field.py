"""Casework API for the field page: photos as evidence, uploaded as raw image bytes and served back in scope.

A photo is addressed by its SHA-256, so a phone that resends after being offline stores nothing twice; the
visit that cites it records only the digest, size and type.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel

from services.casework.adapters.photos_pg import PostgresPhotos
from services.casework.application import CaseworkApp
from services.casework.domain import InvalidInput
from services.casework.domain.photos import accepted_photo
from services.runtime.auth import Actor, CurrentActor, require_scope
from services.runtime.readaudit import Reader, Subject, reading
from services.runtime.validation import BadInput
from services.runtime.web import CommandMeta

Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The photo's SHA-256 (lower-case hex)")]
IMAGE_BODY = {"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/jpeg", "image/png", "image/webp")}}}


class PhotoPublic(BaseModel):
    """What a work record cites of an uploaded photo (pass it as an item of `evidence`)."""

    kind: str
    sha256: str
    size_bytes: int
    media_type: str
    location: str
    stored: bool


async def limited_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it grows past ``max_bytes`` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BadInput(["body"], f"照片过大：最大 {max_bytes} 字节", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadInput(["body"], f"照片过大：最大 {max_bytes} 字节", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def field_router(casework: CaseworkApp, photos: PostgresPhotos, case_subject: Callable[[Any], Subject], *,
                 max_bytes: int) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}/photos", tags=["casework: field"])

    def case_in_scope(case_id: uuid.UUID, actor: Actor) -> Any:
        case = casework.queries.case(case_id)
        require_scope(actor, case.township_code, "案件")
        return case

    @router.post("", response_model=PhotoPublic, status_code=201, responses={200: {"model": PhotoPublic}},
                 summary="上传现场照片（JPEG/PNG/WebP 原始字节；按 SHA-256 去重）", openapi_extra=IMAGE_BODY)
    async def upload(case_id: uuid.UUID, request: Request, response: Response, actor: CurrentActor,
                     meta: CommandMeta) -> PhotoPublic:
        case_in_scope(case_id, actor)
        data = await limited_body(request, max_bytes)
        try:
            photo = accepted_photo(data, max_bytes)
        except InvalidInput as exc:  # answered as a 422 naming the body, like any malformed field
            raise BadInput(["body"], str(exc)) from None
        stored = photos.put(str(case_id), photo, actor.user_id, meta["at"])
        response.status_code = 201 if stored else 200
        return PhotoPublic(**photo.reference(str(case_id)), stored=stored)  # type: ignore[arg-type]

    @router.get("/{sha256}", summary="查看现场照片（仅限辖区内）",
                responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
    def download(case_id: uuid.UUID, sha256: Digest, actor: CurrentActor,
                 reader: Annotated[Reader, reading("casework")]) -> Response:
        case = case_in_scope(case_id, actor)
        row = photos.get(str(case_id), sha256)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": "照片不存在"})
        reader.viewed("case_photo", [case_subject(case)])
        return Response(row["data"], media_type=row["media_type"], headers={
            "cache-control": "private, no-store", "content-disposition": f'inline; filename="{sha256}"',
            "content-security-policy": "default-src 'none'; sandbox"})

    return router
