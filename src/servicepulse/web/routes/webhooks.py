"""Helpdesk webhooks: `POST /api/v1/webhooks/zendesk` and `POST /api/v1/webhooks/chatwoot`.

These routes are authenticated by the sender's signature, not by a user or token: a delivery
must be signed with the secret configured in `webhook_secrets` (401 otherwise, also when the
signed timestamp is more than 5 minutes off), and a route whose secret is not configured
answers 503. Bodies over WEBHOOK_MAX_BODY_BYTES answer 413. What a delivery says is imported
through the importer (source "webhook:zendesk" / "webhook:chatwoot") and pushed to the live
wallboard, like the records API. Payloads and mappings: docs/connectors.md, "Webhooks".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from servicepulse.ingest.webhooks import (
    CHATWOOT_SIGNATURE_HEADER,
    CHATWOOT_TIMESTAMP_HEADER,
    ZENDESK_SIGNATURE_HEADER,
    ZENDESK_TIMESTAMP_HEADER,
    Delivery,
    PayloadError,
    SignatureError,
    chatwoot_delivery,
    load_payload,
    verify_chatwoot,
    verify_zendesk,
    zendesk_delivery,
)
from servicepulse.web.deps import ServicesDep

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
# A helpdesk event is a few kilobytes; far more is not a webhook of theirs.
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024

Verifier = Callable[[str, str | None, str | None, bytes, float], None]


class Rejected(BaseModel):
    line: int | None  # the record's position in the delivery (1-based)
    field: str | None
    reason: str


class WebhookResult(BaseModel):
    event: str | None
    status: str  # "imported" or "ignored"
    reason: str | None = None  # why it was ignored
    inserted: dict[str, int] = {}
    updated: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    quarantined: int = 0
    rejected: list[Rejected] = []


def _secret(request: Request, source: str) -> str:
    """The configured signing secret of `source` (503 without one): of the settings the app
    factory loaded (tests may set `app.state.webhook_secrets` instead)."""
    secrets = getattr(request.app.state, "webhook_secrets", None)
    if secrets is None:
        secrets = request.app.state.services.settings.webhook_secrets
    value: Any = getattr(secrets, source, None)
    text = value.get_secret_value() if value is not None else None
    if not text:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the {source} webhook is not configured: set webhook_secrets.{source} in "
            f"servicepulse.toml or SERVICEPULSE_WEBHOOK_SECRETS__{source.upper()} to the "
            "webhook's signing secret, then restart the server")
    return str(text)


def _too_large() -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"webhook body too large: at most {WEBHOOK_MAX_BODY_BYTES} bytes")


async def _body(request: Request) -> bytes:
    """The raw body (signatures are over the exact bytes), 413 past the limit."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > WEBHOOK_MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > WEBHOOK_MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(request: Request, services: Any, source: str, verify: Verifier,
                   signature_header: str, timestamp_header: str,
                   convert: Callable[[dict[str, Any]], Delivery]) -> WebhookResult:
    secret = _secret(request, source)
    body = await _body(request)
    try:
        verify(secret, request.headers.get(signature_header),
               request.headers.get(timestamp_header), body, time.time())
    except SignatureError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    try:
        delivery = convert(load_payload(body))
    except PayloadError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    if delivery.ignored is not None:
        # 2xx all the same: the sender would otherwise retry, and in the end disable the
        # webhook, for events it was configured to send
        return WebhookResult(event=delivery.event, status="ignored", reason=delivery.ignored)
    summary = await run_in_threadpool(_import, services.engine, delivery)
    # (the summary's counters hold zeros for kinds it saw unchanged: look at the counts)
    if any(summary.inserted.values()) or any(summary.updated.values()):
        services.hub.changed()  # the live wallboard and cached views see it at once
    document = summary.as_json()
    return WebhookResult(
        event=delivery.event, status="imported", inserted=document["inserted"],
        updated=document["updated"], unchanged=document["unchanged"],
        quarantined=summary.quarantined,
        rejected=[Rejected(line=line, field=error.field, reason=error.reason)
                  for line, error in summary.rejected])


def _import(engine: Any, delivery: Delivery) -> Any:
    from servicepulse.ingest.importer import import_rows_deferred
    from servicepulse.ingest.webhooks import drop_stale

    return import_rows_deferred(engine, drop_stale(engine, delivery).rows)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "not a payload of this sender"},
    401: {"description": "missing or wrong signature, or a timestamp more than 5 min off"},
    413: {"description": "body over 1 MiB"},
    503: {"description": "no signing secret configured for this webhook"},
}


@router.post("/zendesk", responses=_RESPONSES,
             summary="Zendesk webhook: ticket events or a trigger's JSON body")
async def zendesk_webhook(request: Request, services: ServicesDep) -> WebhookResult:
    """Signed by Zendesk: `X-Zendesk-Webhook-Signature` = base64 HMAC-SHA256 of
    `X-Zendesk-Webhook-Signature-Timestamp` + body. Idempotent: a retried delivery changes
    nothing."""
    return await _receive(request, services, "zendesk", verify_zendesk,
                          ZENDESK_SIGNATURE_HEADER, ZENDESK_TIMESTAMP_HEADER,
                          partial(zendesk_delivery,
                                  channels=services.settings.zendesk_channels))


@router.post("/chatwoot", responses=_RESPONSES,
             summary="Chatwoot webhook: conversation and message events")
async def chatwoot_webhook(request: Request, services: ServicesDep) -> WebhookResult:
    """Signed by Chatwoot: `X-Chatwoot-Signature` = "sha256=" + hex HMAC-SHA256 of
    `X-Chatwoot-Timestamp` + "." + body. Idempotent: a retried delivery changes nothing."""
    return await _receive(request, services, "chatwoot", verify_chatwoot,
                          CHATWOOT_SIGNATURE_HEADER, CHATWOOT_TIMESTAMP_HEADER,
                          chatwoot_delivery)
