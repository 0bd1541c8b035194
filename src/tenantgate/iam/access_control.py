"""The gateway's access layer: a live identity snapshot, authentication and decisions.

Requests are decided against an in-memory ``IdentitySnapshot``; a background task polls the
identity revision (one tiny read every ``auth.refresh_interval_ms``) and swaps in a fresh
snapshot when it moved, so a revoked key or narrowed policy reaches every replica within
that interval and a request never waits for the database. A well-formed key id the
snapshot does not know triggers one revision check (at most every 250 ms, shared by every
caller waiting) so a key minted on another replica works at once without letting a flood
of made-up ids hammer the database. If the database is unreachable the last snapshot keeps
serving (expiry is still checked against the clock) and the failure is logged.

``last_used_at`` is recorded off the hot path: uses are collected in memory and written in
one transaction every ``_TOUCH_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from tenantgate.background import stop_tasks
from tenantgate.errors import AuthenticationFailed, InvalidApiKey, ModelNotAuthorized, PermissionDenied
from tenantgate.iam import _identity_rows as rows
from tenantgate.iam import inference_access as rules
from tenantgate.iam._key_store import record_uses
from tenantgate.iam._snapshot_rows import load_snapshot
from tenantgate.iam.access_snapshot import EMPTY_SNAPSHOT, IdentitySnapshot
from tenantgate.iam.api_keys import parse_presented
from tenantgate.iam.denials import Denial, DenialSink
from tenantgate.iam.key_authentication import UnknownKeyId, authenticate_key
from tenantgate.iam.policy_evaluator import Decision, RequestContext
from tenantgate.iam.principal import ANONYMOUS, Caller, Principal
from tenantgate.iam.static_keys import StaticKeys, bearer_token
from tenantgate.settings import AuthSettings
from tenantgate.storage.database import Database

logger = logging.getLogger("tenantgate.iam")

_UNKNOWN_KEY_CHECK_S = 0.25
_TOUCH_INTERVAL_S = 15.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AccessControl:
    """Authenticates callers and decides inference and admin requests for one replica."""

    def __init__(
        self, settings: AuthSettings, database: Database, *,
        clock: Callable[[], datetime] = _utc_now, on_denied: DenialSink | None = None,
    ) -> None:
        self._settings = settings
        self._db = database
        self._clock = clock
        self._static = StaticKeys(settings.api_key_sha256)
        self.on_denied = on_denied
        self.snapshot: IdentitySnapshot = EMPTY_SNAPSHOT
        self._refreshing: asyncio.Task[None] | None = None
        self._revision_checked_at = float("-inf")
        self._unknown_check_at = float("-inf")
        self._used: set[tuple[str, int]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # Lifecycle

    async def start(self) -> None:
        """Load the first snapshot and start polling; fails if the database is unreachable."""
        self.snapshot = await self._db.run_read(load_snapshot)
        self._tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._touch_loop())]

    async def aclose(self) -> None:
        """Stop polling and write the uses collected since the last flush."""
        await stop_tasks(*self._tasks)
        self._tasks = []
        await self._flush_uses()

    async def refresh(self) -> None:
        """Reload now if the revision moved (after a local admin change); shared by concurrent callers."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._reload_if_changed())
        await asyncio.shield(self._refreshing)

    async def _reload_if_changed(self) -> None:
        self._revision_checked_at = time.monotonic()
        revision = await self._db.run_read(rows.read_revision)
        if revision != self.snapshot.revision:
            self.snapshot = await self._db.run_read(load_snapshot)

    async def _poll(self) -> None:
        interval = self._settings.refresh_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last snapshot; say why once per poll
                logger.warning("identity refresh failed; serving the last snapshot",
                               extra={"error": repr(exc), "revision": self.snapshot.revision})

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(_TOUCH_INTERVAL_S)
            try:
                await self._flush_uses()
            except Exception as exc:
                logger.warning("recording key use failed", extra={"error": repr(exc)})

    async def _flush_uses(self) -> None:
        used, self._used = self._used, set()
        if used:
            now = self._clock()
            await self._db.run_write(lambda conn: record_uses(conn, used, now))

    # Authentication

    @property
    def required(self) -> bool:
        """Whether callers need a key: as configured, else once a tenancy exists."""
        configured = self._settings.required
        return configured if configured is not None else self.snapshot.tenancy is not None

    async def authenticate(
        self, authorization: str | None, *, ip: str | None = None, request_id: str | None = None
    ) -> Principal:
        """The caller's principal; 401-class errors (audited) for missing or rejected keys."""
        if not self.required:
            return ANONYMOUS
        try:
            return await self._authenticate(authorization)
        except AuthenticationFailed as error:
            self._denied(Caller(ANONYMOUS, ip=ip, request_id=request_id), "auth.failed", error.code)
            raise

    async def _authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        try:
            presented = parse_presented(token)
        except InvalidApiKey:
            return self._static.authenticate(token)
        try:
            principal, record = authenticate_key(self.snapshot, presented, self._clock())
        except UnknownKeyId:
            try:
                await self._await_fresh_revision(time.monotonic())
            except Exception:
                raise InvalidApiKey() from None
            try:
                principal, record = authenticate_key(self.snapshot, presented, self._clock())
            except UnknownKeyId:
                raise InvalidApiKey() from None
        self._used.add((record.id, presented.slot))
        return principal

    async def _await_fresh_revision(self, arrived: float) -> None:
        """Wait for a revision check begun after ``arrived``, starting one at most every 250 ms.

        Callers presenting unknown ids share the checks, so a flood of made-up keys costs the
        database four tiny reads a second and each such caller at most a quarter second.
        """
        while self._revision_checked_at < arrived:
            delay = self._unknown_check_at + _UNKNOWN_KEY_CHECK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self._unknown_check_at = time.monotonic()
            await self.refresh()

    # Decisions

    def authorize_inference(
        self, caller: Caller, *, operation: str, model: str, regions: Iterable[str | None]
    ) -> rules.InferenceGrant:
        """Which of ``regions`` the caller may use ``model`` in; PermissionDenied (audited) if none."""
        principal = caller.principal
        if not principal.governed:
            return rules.UNGOVERNED
        snapshot = self.snapshot
        try:
            rules.check_key_scope(principal, model, caller.ip)
        except PermissionDenied as error:
            self._denied(caller, "inference.denied", error.code, model=model)
            raise
        compartment = rules.target_compartment(snapshot, principal, caller.compartment)
        grant, decision = (None, None) if compartment is None else rules.decide_inference(
            snapshot, principal, compartment, operation=operation, model=model,
            regions=regions, ip=caller.ip, now=self._clock(),
        )
        if grant is None:
            self._denied(caller, "inference.denied", "model_not_authorized", model=model,
                         compartment_id=compartment.id if compartment else None,
                         errors=list(decision.errors) if decision else [])
            message = rules.denial_message(operation, model, rules.place_of(compartment, caller.compartment))
            raise ModelNotAuthorized(message, param="model")
        return grant

    def may_use_model(
        self, caller: Caller, *, operations: Iterable[str], model: str, regions: Iterable[str | None]
    ) -> bool:
        """Whether the models list should show ``model`` to this caller (no audit: nothing was tried)."""
        principal = caller.principal
        if not principal.governed:
            return True
        try:
            rules.check_key_scope(principal, model, caller.ip)
        except PermissionDenied:
            return False
        compartment = rules.target_compartment(self.snapshot, principal, caller.compartment)
        if compartment is None:
            return False
        now, region_list = self._clock(), list(regions)
        return any(
            rules.decide_inference(self.snapshot, principal, compartment, operation=operation,
                                   model=model, regions=region_list, ip=caller.ip, now=now)[0]
            is not None
            for operation in operations
        )

    def evaluate(self, context: RequestContext) -> Decision:
        """A raw policy decision on the current snapshot (admin API, ``policy explain``)."""
        return self.snapshot.policies.evaluate(context)

    def _denied(self, caller: Caller, action: str, reason: str, **details: object) -> None:
        if self.on_denied is None:
            return
        principal = caller.principal
        self.on_denied(Denial(
            action=action, reason=reason, principal_type=principal.type, principal_id=principal.id,
            principal_name=principal.name, key_id=principal.key_id, request_id=caller.request_id,
            ip=caller.ip, details=details,
        ))
