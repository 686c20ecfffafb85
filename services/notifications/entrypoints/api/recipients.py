"""Recipients directory routes: import (CSV or JSON), edit, remove and list, inside the caller's jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from services.notifications.application import NotificationsApp
from services.notifications.application.recipients import DirectoryService, parse
from services.notifications.domain.directory import Recipient, county_of
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.validation import SafeLine, SafeText
from services.runtime.web import CommandMeta

Code = Annotated[str, Path(pattern=r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$", description="County, township or village code")]
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "properties": {"recipients": {"type": "array"}}}},
            "text/csv": {"schema": {"type": "string", "example": "jurisdiction_code,role,user_id,name,address\n"}},
        },
    }
}


class RecipientPublic(BaseModel):
    jurisdiction_code: str
    role: str
    user_id: str
    name: str
    address: str | None


class RecipientUpdate(BaseModel):
    name: SafeLine = Field(min_length=1, max_length=100)
    address: SafeText | None = Field(None, max_length=500)


class DirectoryChangePublic(BaseModel):
    listed: int
    unlisted: int
    delivered: int = Field(description="Pending notifications delivered because their recipient is now known")


def recipients_router(notifications: NotificationsApp, directory: DirectoryService) -> APIRouter:
    router = APIRouter(prefix="/v1/recipients", tags=["recipients"])

    @router.post("/import", response_model=DirectoryChangePublic, openapi_extra=_IMPORT_BODY)
    async def import_recipients(request: Request, actor: CurrentActor, meta: CommandMeta) -> DirectoryChangePublic:
        """Adds or updates recipients (CSV with header jurisdiction_code,role,user_id,name,address, or JSON)."""
        recipients = parse(await request.body(), request.headers.get("content-type", ""))
        for r in recipients:
            require_scope(actor, r.jurisdiction_code, "接收人")
        change = await run_in_threadpool(directory.import_recipients, recipients, meta)
        return DirectoryChangePublic(**change.__dict__)

    @router.put("/{role}/{code}/{user_id}", response_model=DirectoryChangePublic)
    def edit_recipient(role: str, code: Code, user_id: Annotated[str, Path(max_length=128)], body: RecipientUpdate,
                       actor: CurrentActor, meta: CommandMeta) -> DirectoryChangePublic:
        """Adds or edits one recipient."""
        require_scope(actor, code, "接收人")
        recipient = Recipient(role, code, user_id, body.name, body.address)
        return DirectoryChangePublic(**directory.import_recipients([recipient], meta).__dict__)

    @router.delete("/{role}/{code}/{user_id}", response_model=DirectoryChangePublic)
    def remove_recipient(role: str, code: Code, user_id: Annotated[str, Path(max_length=128)], actor: CurrentActor,
                         meta: CommandMeta) -> DirectoryChangePublic:
        """Removes one recipient; later notices go to whoever is nearest then."""
        require_scope(actor, code, "接收人")
        return DirectoryChangePublic(**directory.remove(role, code, user_id, meta).__dict__)

    @router.get("", response_model=list[RecipientPublic])
    def list_recipients(actor: CurrentActor,
                        county_code: Annotated[str, Query(pattern=r"^[0-9]{4}([0-9]{2})?$")]) -> list[Recipient]:
        """The county's directory, limited to the caller's jurisdiction."""
        return [r for r in notifications.recipients(county_of(county_code)) if actor.covers(r.jurisdiction_code)]

    return router
