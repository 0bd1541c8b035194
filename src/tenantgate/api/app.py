"""The ASGI application: routing, authentication, body limits, responses, logs and metrics.

One small dispatcher instead of a framework keeps the per-request cost of the OpenAI
surface to a few microseconds (see docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from tenantgate.admin import AdminApi, is_admin_path
from tenantgate.admin.audited_events import AuditedAdminEvents
from tenantgate.api import chat_completions, completions, embeddings, models
from tenantgate.api.http import (
    ApiRequest,
    ApiResponse,
    ClientDisconnected,
    JsonResponse,
    Receive,
    Scope,
    Send,
    StreamResponse,
    error_response,
    read_body,
    request_id_from,
)
from tenantgate.api.idempotency import IDEMPOTENCY_KEY_HEADER, IdempotencyGuard
from tenantgate.errors import InternalError, MethodNotAllowed, RouteNotFound, TenantgateError
from tenantgate.iam.principal import ANONYMOUS, Caller
from tenantgate.observability.access_log import AccessEntry, AccessLog
from tenantgate.pipeline import Outcome, Pipeline
from tenantgate.runtime import Gateway

logger = logging.getLogger("tenantgate.api")

InferenceHandler = Callable[[Pipeline, ApiRequest, Outcome], Awaitable[ApiResponse]]
PlainHandler = Callable[[Pipeline, ApiRequest], Awaitable[ApiResponse]]
_WANTED_HEADERS = frozenset(
    {b"authorization", b"content-type", b"content-length", b"x-request-id",
     b"openai-project", b"x-tenantgate-compartment", b"idempotency-key"}
)
_TEXT = b"text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Route:
    """A path's handler for one method; inference routes read a body and may stream."""

    name: str
    inference: InferenceHandler | None = None
    plain: PlainHandler | None = None
    public: bool = False


class TenantgateApp:
    """The ASGI callable served by uvicorn."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._settings = gateway.settings
        self._pipeline = gateway.pipeline
        self._metrics = gateway.metrics
        self._access_log = AccessLog(gateway.settings.logging)
        self._routes: dict[str, dict[str, Route]] = {
            "/v1/chat/completions": {"POST": Route("chat.completions", chat_completions.chat_completions)},
            "/v1/completions": {"POST": Route("completions", completions.completions)},
            "/v1/embeddings": {"POST": Route("embeddings", embeddings.embeddings)},
            "/v1/models": {"GET": Route("models.list", plain=models.list_models)},
            "/healthz": {"GET": Route("healthz", plain=self._healthz, public=True)},
            "/readyz": {"GET": Route("readyz", plain=self._readyz, public=True)},
            "/metrics": {"GET": Route("metrics", plain=self._render_metrics, public=True)},
        }
        self._model_route = {"GET": Route("models.get", plain=models.get_model)}
        self.admin = AdminApi(gateway, events=AuditedAdminEvents(gateway.audit))
        self._admin_route = Route("admin", plain=self._admin)
        keys = gateway.settings.idempotency
        self._idempotency = IdempotencyGuard(gateway.idempotency, keys) if keys.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.start()
                except Exception as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _route_for(self, method: str, path: str) -> Route:
        methods = self._routes.get(path)
        if methods is None and path.startswith(models.MODEL_PATH_PREFIX) and len(path) > 11:
            methods = self._model_route
        if methods is None and is_admin_path(path):
            return self._admin_route  # the admin router answers 404/405 for its own paths
        if methods is None:
            raise RouteNotFound(f"Unknown path: {method} {path}")
        route = methods.get(method)
        if route is None:
            raise MethodNotAllowed(f"{method} is not allowed on {path}.")
        return route

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = {k: v for k, v in scope["headers"] if k in _WANTED_HEADERS}
        client = scope.get("client")
        request = ApiRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            receive=receive,
            request_id=request_id_from(headers.get(b"x-request-id")),
            client_host=client[0] if client else None,
            query_string=scope.get("query_string", b""),
        )
        outcome = Outcome()
        route_name = "unmatched"
        try:
            route = self._route_for(request.method, request.path)
            route_name = route.name
            response = await self._handle(route, request, outcome)
        except ClientDisconnected:
            self._finish(request, route_name, 499, started, outcome)
            return
        except TenantgateError as error:
            response = error_response(error)
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request.request_id})
            response = error_response(InternalError())
        if outcome.admission.headers:  # rate limits: on answers and errors alike, streams included
            response.headers = [*response.headers, *outcome.admission.headers]
        if isinstance(response, StreamResponse):
            status = await self._send_stream(response, request, send)
        else:
            status = response.status
            await _send_json(response, request.request_id, send)
        self._finish(request, route_name, status, started, outcome)

    async def _handle(self, route: Route, request: ApiRequest, outcome: Outcome) -> ApiResponse:
        if not route.public:
            principal = await self._pipeline.authenticate(
                request.header(b"authorization"), ip=request.client_host, request_id=request.request_id
            )
            if principal is not ANONYMOUS:
                request.caller = Caller(
                    principal, compartment_header(request), request.client_host, request.request_id
                )
        if route.plain is not None:
            return await route.plain(self._pipeline, request)
        inference = route.inference
        assert inference is not None
        server = self._settings.server
        request.body = await read_body(
            request,
            max_bytes=server.request_body_max_bytes,
            timeout_s=server.request_receive_timeout_ms / 1000,
        )
        work: Awaitable[ApiResponse]
        idempotency_key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if idempotency_key is not None and self._idempotency is not None:
            work = self._idempotency.run(
                request, idempotency_key, lambda: inference(self._pipeline, request, outcome)
            )
        else:
            work = inference(self._pipeline, request, outcome)
        return await _unless_disconnected(work, request.receive)

    async def _send_stream(self, response: StreamResponse, request: ApiRequest, send: Send) -> int:
        """Stream frames until done; a client disconnect cancels the upstream at once."""
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"x-request-id", request.request_id.encode()),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        self._metrics.inflight_streams.inc()
        try:
            pump = _pump(response, send)
            await _unless_disconnected(pump, request.receive)
        except ClientDisconnected:
            return 499
        finally:
            self._metrics.inflight_streams.dec()
            if response.on_close is not None:
                response.on_close()
        return 200

    def _finish(
        self, request: ApiRequest, route: str, status: int, started: float, outcome: Outcome
    ) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.request_done(route, status, elapsed)
        if self._access_log.enabled:
            self._access_log.record(
                AccessEntry(
                    request.request_id, request.method, request.path, status,
                    round(elapsed * 1000, 3), outcome.deployment, outcome.attempts,
                    outcome.usage.to_openai() if outcome.usage else None,
                )
            )

    async def _admin(self, pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
        return await self.admin.handle(request)

    async def _healthz(self, pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
        return JsonResponse(200, b'{"status":"ok"}')

    async def _readyz(self, pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
        checks = await self.gateway.check_ready()
        ok = all(value == "ok" for value in checks.values())
        body = msgspec.json.encode({"status": "ok" if ok else "unavailable", "checks": checks})
        return JsonResponse(200 if ok else 503, body)

    async def _render_metrics(self, pipeline: Pipeline, request: ApiRequest) -> ApiResponse:
        return JsonResponse(200, self._metrics.render(), content_type=_TEXT)


def compartment_header(request: ApiRequest) -> str | None:
    """The compartment a caller names: ours, or OpenAI's project header for SDKs that set it."""
    return request.header(b"x-tenantgate-compartment") or request.header(b"openai-project")


async def _send_json(response: JsonResponse, request_id: str, send: Send) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
        (b"x-request-id", request_id.encode()),
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _pump(response: StreamResponse, send: Send) -> None:
    async for frame in response.frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _unless_disconnected(work: Awaitable[ApiResponse] | Awaitable[None],
                               receive: Receive) -> ApiResponse:
    """Run ``work``; if the client disconnects first, cancel it and raise ClientDisconnected.

    Cancelling propagates into the backend, which aborts the upstream request (or frees the
    local model's slot) instead of computing an answer nobody will read.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    # One future woken by whichever finishes first: what asyncio.wait(FIRST_COMPLETED) does,
    # without its per-call sets and callback bookkeeping (~8 us less per request, measured).
    first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    wake = functools.partial(_wake, first)
    task.add_done_callback(wake)
    watcher.add_done_callback(wake)
    try:
        await first
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task.done():
        watcher.cancel()
        return task.result()  # type: ignore[return-value]
    task.cancel()
    # The client is gone: whatever the cancelled work raised has nobody to be reported to.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientDisconnected()


def _wake(first: asyncio.Future[None], _done: asyncio.Future[Any]) -> None:
    if not first.done():
        first.set_result(None)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
