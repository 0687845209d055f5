"""The ASGI entry point uvicorn imports (also in each worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from servicepulse.config import load_settings
from servicepulse.records import plausible
from servicepulse.store.database import open_store
from servicepulse.web.app import create_app


def app_from_environment() -> FastAPI:
    """The app on the store named by SERVICEPULSE_DATABASE_URL (set by `servicepulse serve`).
    Records posted to it are held to the configured plausible values, as imports are."""
    plausible.configure_from_settings(load_settings())
    return create_app(open_store())
