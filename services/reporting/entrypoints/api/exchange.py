"""Provincial platform exchange routes: the ledger in the platform's layout (XLSX) and the reconciliation of the
marks it returns (疑似辍学标注); both read-audited like every ledger export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.reporting.application.exchange import ProvincialExchange
from services.reporting.entrypoints.api.ledgers import shown
from services.runtime.auth import CurrentActor
from services.runtime.readaudit import Reader, reading
from services.runtime.validation import BadInput

MAX_BYTES = 20 * 1024 * 1024


def router(exchange: ProvincialExchange) -> APIRouter:
    api = APIRouter(prefix="/v1/exchange/provincial", tags=["provincial exchange"])

    @api.get("/ledger", summary="The cases ledger in the provincial platform's column layout (XLSX)")
    def ledger(actor: CurrentActor, reader: Annotated[Reader, reading("reporting")]) -> Response:
        file = exchange.export(actor)
        reader.viewed("provincial_export", shown(file.items, actor))
        return Response(file.body, media_type=file.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})

    @api.post("/marks", summary="Reconciles the platform's returned marks (XLSX body) against the cases; writes nothing")
    async def marks(request: Request, actor: CurrentActor,
                    reader: Annotated[Reader, reading("data_correction")]) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BYTES:
            raise BadInput(["body"], "文件超过 20 MB", status=413)
        if not body:
            raise BadInput(["body"], "请上传省级平台返回的标注表（XLSX）")
        result = await run_in_threadpool(exchange.reconcile, actor, body)
        await run_in_threadpool(reader.viewed, "provincial_marks", shown(result.pop("_shown"), actor))
        return result

    return api
