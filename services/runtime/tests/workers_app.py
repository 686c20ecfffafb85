"""A tiny app factory for the API-workers test: each worker process answers with its pid."""

from __future__ import annotations

import os

from fastapi import FastAPI


def app_factory() -> FastAPI:
    app = FastAPI()

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app
