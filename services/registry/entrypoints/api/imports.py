"""The bulk import route: a CSV/XLSX file as the body or a multipart upload."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from services.registry.application.registry import Registry
from services.runtime.auth import CurrentActor
from services.runtime.clock import Clock
from services.runtime.web import CommandMeta

_IMPORT_BODY = {"requestBody": {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                   "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the CSV or XLSX file"}}}},
}}}


async def _upload(request: Request, filename: str | None) -> tuple[bytes, str]:
    """The file of an import: a multipart upload (field `file`) or the raw body; the name decides the format."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form()
        except Exception as exc:  # a malformed multipart body is the caller's error
            raise HTTPException(422, detail={"code": "multipart_invalid", "message": "无法解析上传的文件"}) from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, detail={"code": "file_missing", "message": "请以 file 字段上传文件"})
        content = await upload.read()
        await form.close()
        return content, filename or upload.filename or "import.csv"
    return await request.body(), filename or "import.csv"


def imports_router(registry: Registry, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/imports/{kind}", summary="Bulk import (CSV/XLSX as the body or a multipart upload); all or nothing "
                 "unless valid_only", openapi_extra=_IMPORT_BODY)
    async def import_file(
        kind: Literal["students", "population", "schools"], request: Request, actor: CurrentActor, meta: CommandMeta,
        filename: str | None = Query(None, max_length=255, description="Name of the file (.csv or .xlsx decides the "
                                     "format); default: the uploaded file's name, else import.csv"),
        source: Literal["public_security", "civil_affairs", "disability_federation", "poverty_alleviation",
                        "education"] = Query("public_security"),
        valid_only: bool = Query(False, description="Import the valid rows and report the others"),
    ) -> dict[str, Any]:
        content, filename = await _upload(request, filename)
        if not content:
            raise HTTPException(422, detail={"code": "file_empty", "message": "文件为空"})
        if kind == "schools":
            report = registry.imports.import_schools(content, filename, meta, scope=actor.jurisdiction)
        else:
            report = registry.imports.import_file(kind=kind, content=content, filename=filename, source=source,
                                          valid_only=valid_only, today=clock.today(), meta=meta,
                                          scope=actor.jurisdiction)
        return report.as_dict()

    return router
