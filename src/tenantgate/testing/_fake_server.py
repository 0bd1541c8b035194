"""The fake upstream's aiohttp application: routes, the request pipeline and the control API.

Every provider route runs the same pipeline: read and record the request, check the
flavour's credentials, take a fault, build the reply with a pure wire-format builder, and
let the transport write it (bent by the fault).  URL layout::

    /v1/...                                   OpenAI and OpenAI-compatible servers
    /openai/deployments/{deployment}/...      Azure OpenAI (api-version query required)
    /openai/v1/...                            Azure OpenAI v1 API (model in the body)
    /oci/openai/v1/...                        OCI Generative AI, OpenAI-compatible
    /oci/20231130/actions/{chat,embedText}    OCI Generative AI, native inference API
    /_fake/{faults,requests,reset}            control API (no auth, never faulted or recorded)

OCI lives under ``/oci`` because its real OpenAI-compatible path (``/openai/v1``) collides
with Azure's; ``base_url + "/oci"`` plays the part of
``https://inference.generativeai.<region>.oci.oraclecloud.com``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import msgspec
from aiohttp import web

from tenantgate.testing._fake_embeddings import embeddings
from tenantgate.testing._fake_faults import Fault, FaultQueue, decode_faults
from tenantgate.testing._fake_flavours import AuthConfig, AuthResult, authenticate, error_outcome
from tenantgate.testing._fake_oci_native import oci_chat, oci_embed
from tenantgate.testing._fake_openai_chat import chat_completion
from tenantgate.testing._fake_openai_completions import completion
from tenantgate.testing._fake_outcome import FakeRequestError, JsonOutcome, Outcome, encode_json
from tenantgate.testing._fake_recording import Flavour, RecordedRequest, Recorder
from tenantgate.testing._fake_reply import Responder
from tenantgate.testing._fake_transport import abort_connection, send_outcome

Endpoint = Literal["chat", "completions", "embeddings", "models", "oci_chat", "oci_embed"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_OPENAI_ENDPOINTS: tuple[tuple[str, Endpoint], ...] = (
    ("chat/completions", "chat"),
    ("completions", "completions"),
    ("embeddings", "embeddings"),
)


@dataclass(slots=True)
class ServerState:
    """Everything the handlers share: configuration plus the fault queue and the record."""

    auth: AuthConfig
    responder: Responder
    models: tuple[str, ...]
    azure_model_names: Mapping[str, str]
    azure_content_filter: bool
    token_delay_s: float
    faults: FaultQueue
    recorder: Recorder
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def build_app(state: ServerState) -> web.Application:
    """The aiohttp application serving every flavour at once."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    route = partial(_handle, state)
    for suffix, endpoint in _OPENAI_ENDPOINTS:
        app.router.add_post(f"/v1/{suffix}", partial(route, "openai", endpoint))
        app.router.add_post(f"/openai/v1/{suffix}", partial(route, "azure", endpoint))
        app.router.add_post(
            f"/openai/deployments/{{deployment}}/{suffix}", partial(route, "azure", endpoint)
        )
        app.router.add_post(f"/oci/openai/v1/{suffix}", partial(route, "oci-openai", endpoint))
    app.router.add_get("/v1/models", partial(route, "openai", "models"))
    app.router.add_get("/openai/v1/models", partial(route, "azure", "models"))
    app.router.add_get("/oci/openai/v1/models", partial(route, "oci-openai", "models"))
    app.router.add_post("/oci/20231130/actions/chat", partial(route, "oci", "oci_chat"))
    app.router.add_post("/oci/20231130/actions/embedText", partial(route, "oci", "oci_embed"))
    app.router.add_post("/_fake/faults", partial(_control_faults, state))
    app.router.add_get("/_fake/requests", partial(_control_requests, state))
    app.router.add_post("/_fake/reset", partial(_control_reset, state))
    return app


def _model_of(flavour: Flavour, body: Mapping[str, Any], match: Mapping[str, str]) -> str | None:
    if "deployment" in match:
        return match["deployment"]
    if flavour == "oci":
        mode = body.get("servingMode") or {}
        return mode.get("modelId") or mode.get("endpointId") if isinstance(mode, dict) else None
    model = body.get("model")
    return model if isinstance(model, str) else None


def _is_stream(flavour: Flavour, body: Mapping[str, Any]) -> bool:
    if flavour == "oci":
        request = body.get("chatRequest")
        return isinstance(request, dict) and bool(request.get("isStream"))
    return bool(body.get("stream"))


def _decode_body(raw: bytes) -> tuple[dict[str, Any], bool]:
    if not raw:
        return {}, True
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}, False
    return (body, True) if isinstance(body, dict) else ({}, False)


async def _handle(
    state: ServerState, flavour: Flavour, endpoint: Endpoint, request: web.Request
) -> web.StreamResponse:
    raw = await request.read()
    body, valid_json = _decode_body(raw)
    headers = {name.lower(): value for name, value in request.headers.items()}
    rid = f"fake{next(state.ids):020d}"
    model = _model_of(flavour, body, request.match_info)
    stream = _is_stream(flavour, body)
    auth = authenticate(
        flavour,
        state.auth,
        method=request.method,
        target=request.raw_path,
        headers=headers,
        body=raw,
    )
    fault = state.faults.take(request.path, model, stream) if auth.ok else None
    _record(
        state, request, flavour, headers, body if valid_json else None, model, stream, auth, fault
    )
    early = _early_error(flavour, request, auth, valid_json, rid)
    if early is not None:
        return await send_outcome(request, early, None)
    if fault is not None:
        faulted = await _apply_pre_body_fault(request, flavour, fault, rid)
        if faulted is not None:
            return faulted
    try:
        outcome = _build(state, flavour, endpoint, body, model, rid)
    except FakeRequestError as error:
        outcome = error_outcome(
            flavour, error.status, error.message, code=error.code, param=error.param, request_id=rid
        )
        fault = None
    return await send_outcome(request, outcome, fault, state.token_delay_s)


def _early_error(
    flavour: Flavour, request: web.Request, auth: AuthResult, valid_json: bool, rid: str
) -> JsonOutcome | None:
    """Azure's missing api-version, bad credentials or a body that is not a JSON object."""
    if "deployment" in request.match_info and "api-version" not in request.query:
        return error_outcome(flavour, 404, "Resource not found", code="404", request_id=rid)
    if not auth.ok:
        reason = auth.reason if auth.status != 401 else None
        return error_outcome(flavour, auth.status, reason, request_id=rid)
    if not valid_json:
        return error_outcome(flavour, 400, "The request body is not valid JSON.", request_id=rid)
    return None


def _record(
    state: ServerState,
    request: web.Request,
    flavour: Flavour,
    headers: dict[str, str],
    body: Any,
    model: str | None,
    stream: bool,
    auth: AuthResult,
    fault: Fault | None,
) -> None:
    state.recorder.add(
        RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            arrived_at=time.time(),
            flavour=flavour,
            model=model,
            stream=stream,
            auth=auth.kind,
            auth_ok=auth.ok,
            signature_verified=auth.signature.ok if auth.signature is not None else None,
            key_id=auth.signature.key_id if auth.signature is not None else None,
            fault=fault.kind if fault is not None else None,
        )
    )


async def _apply_pre_body_fault(
    request: web.Request, flavour: Flavour, fault: Fault, rid: str
) -> web.StreamResponse | None:
    """Faults that act before any reply is built; None lets the request carry on."""
    if fault.kind == "reset_before_headers":
        abort_connection(request)
        return web.Response(status=599)
    if fault.kind == "stall_before_headers":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind in ("rate_limit", "status"):
        status = 429 if fault.kind == "rate_limit" else fault.status
        outcome = error_outcome(
            flavour, status, fault.message, retry_after_s=fault.retry_after_s, request_id=rid
        )
        return await send_outcome(request, outcome, None)
    return None


def _build(
    state: ServerState,
    flavour: Flavour,
    endpoint: Endpoint,
    body: dict[str, Any],
    model: str | None,
    rid: str,
) -> Outcome:
    if endpoint == "oci_chat":
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return oci_chat(body, responder=state.responder, rid=rid, time_created=stamp)
    if endpoint == "oci_embed":
        return oci_embed(body, rid=rid)
    if endpoint == "models":
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "tenantgate-fake"}
            for m in state.models
        ]
        return JsonOutcome(encode_json({"object": "list", "data": data}))
    if not model:
        raise FakeRequestError("you must provide a model parameter", param="model")
    reported = state.azure_model_names.get(model, model) if flavour == "azure" else model
    if endpoint == "embeddings":
        return embeddings(body, model=reported)
    created = int(time.time())
    if endpoint == "completions":
        return completion(body, model=reported, responder=state.responder, rid=rid, created=created)
    azure = flavour == "azure" and state.azure_content_filter
    return chat_completion(
        body, model=reported, responder=state.responder, rid=rid, created=created, azure=azure
    )


async def _control_faults(state: ServerState, request: web.Request) -> web.StreamResponse:
    try:
        faults = decode_faults(await request.read())
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return web.json_response({"error": str(error)}, status=400)
    state.faults.enqueue(faults)
    return web.json_response({"queued": len(faults), "pending": len(state.faults.pending)})


async def _control_requests(state: ServerState, request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=encode_json(state.recorder.snapshot()), content_type="application/json"
    )


async def _control_reset(state: ServerState, request: web.Request) -> web.StreamResponse:
    state.faults.clear()
    state.recorder.clear()
    return web.json_response({"reset": True})
