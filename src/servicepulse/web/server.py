"""The ASGI entry point uvicorn imports (also in each worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from servicepulse.config import load_settings
from servicepulse.records import plausible
from servicepulse.store.database import open_store
from servicepulse.web.app import create_app


def app_from_environment() -> FastAPI:
    """The app on the store named by SERVICEPULSE_DATABASE_URL (set by `servicepulse serve`),
    with the configuration read once, here (each worker process is a start of its own).
    Records posted to it are held to the configured plausible values, as imports are."""
    settings = load_settings()
    plausible.configure_from_settings(settings)
    return create_app(open_store(), settings=settings)
