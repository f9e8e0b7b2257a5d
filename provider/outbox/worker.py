"""The outbox worker: claim a batch under a lease, send it, record what Jira said.

Each batch goes through three steps so that a crash at any point loses nothing:

1. a short transaction claims up to ``batch_size`` pending messages of one
   (installation, kind, operation, group) and marks them ``sending`` with a lease
   (``claimed_until``, ``claimed_by``), then commits;
2. the HTTP call(s), outside any transaction;
3. a second short transaction records the outcome, touching only rows this batch still holds.

A worker killed between 1 and 3 leaves ``sending`` rows whose lease expires; they become
``pending`` again (or are dropped when a newer pending change of the same entity exists). A
change enqueued while an older version is in flight is a new ``pending`` row, which is not
claimed while the older one's lease is alive, so one entity is never in two concurrent batches
and an older completion never overwrites a newer change. On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED`` so any number of workers can run; on SQLite every transaction starts
with ``BEGIN IMMEDIATE`` (see ``provider.db``), which serializes claims.

Step 1 lives in ``provider.outbox.claims`` and step 3 in ``provider.outbox.outcomes``; this module
sends, drives the three steps one batch at a time, and runs the worker process loop.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.config import Settings
from provider.connect.forge_tokens import NoUsableToken
from provider.connect.forge_tokens import SystemToken
from provider.connect.forge_tokens import usable_system_token
from provider.connect.http import HostSessions
from provider.connect.http import HttpOptions
from provider.connect.http import JiraCall
from provider.connect.http import JiraError
from provider.connect.models import Installation
from provider.connect.models import JiraAuth
from provider.crypto import SecretBox
from provider.jira.client import HttpJiraClient
from provider.jira.client import JiraClient
from provider.logging import client_key_var
from provider.metrics import Metrics
from provider.outbox import claims
from provider.outbox import outcomes
from provider.outbox.budget import Pacing
from provider.outbox.claims import Claim
from provider.outbox.handlers import HANDLERS
from provider.outbox.handlers import Batch
from provider.outbox.handlers import Envelope
from provider.outbox.handlers import KindSpec
from provider.outbox.outcomes import DeliveryObserver
from provider.outbox.outcomes import Part
from provider.outbox.outcomes import Recorded
from provider.outbox.retry import Action
from provider.outbox.retry import Decision
from provider.outbox.retry import RetryPolicy
from provider.outbox.retry import classify
from provider.times import utcnow

logger = logging.getLogger(__name__)

ClientFactory = Callable[[Installation], JiraClient]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch_size: int = 1000
    lease_seconds: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    idle_sleep_min: float = 0.05
    # An idle worker looks for work at least this often: the bound on an incident's wait when
    # the site is idle (plus the request itself).
    idle_sleep_max: float = 0.5
    pacing: Pacing = field(default_factory=Pacing)


class ClientUnavailable(Exception):
    """No Jira client can be built for an installation (e.g. its secret cannot be decrypted)."""


class ClientNotReady(Exception):
    """No Jira client yet: the installation waits for a fresh Forge system token."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Forge sends a new system token with its next invocation, at the latest the hourly one.
FORGE_TOKEN_WAIT_SECONDS = 60.0


def make_client_factory(
    settings: Settings, config: WorkerConfig | None = None, sessions: HostSessions | None = None
) -> ClientFactory:
    """Build Jira clients from stored installations, in the mode each one has (production)."""
    config = config or WorkerConfig()
    box = SecretBox(settings.secret_key)
    pool = sessions or HostSessions()
    options = HttpOptions(connect_timeout=config.connect_timeout, read_timeout=config.read_timeout)
    common: dict[str, Any] = {
        "app_key": settings.app_key,
        "sessions": pool,
        "options": options,
        "product": settings.app_key,
    }

    def factory(installation: Installation) -> JiraClient:
        if installation.jira_auth is JiraAuth.FORGE:
            token = _forge_token(installation, box, settings)
            return HttpJiraClient(base_url=token.api_base_url, system_token=token.token, **common)
        try:
            secret = box.decrypt(installation.shared_secret_encrypted)
        except ValueError as e:
            raise ClientUnavailable(str(e)) from None
        return HttpJiraClient(base_url=installation.base_url, shared_secret=secret, **common)

    return factory


def _forge_token(installation: Installation, box: SecretBox, settings: Settings) -> SystemToken:
    """:raises ClientNotReady: until a token arrives; :raises ClientUnavailable: for a bad one."""
    try:
        return usable_system_token(installation, box, hosts=settings.forge_api_hosts, now=utcnow())
    except NoUsableToken as e:
        if e.waiting:
            raise ClientNotReady(str(e), FORGE_TOKEN_WAIT_SECONDS) from None
        raise ClientUnavailable(str(e)) from None


class OutboxWorker:
    """Drains the outbox one batch at a time; safe to run in several processes on PostgreSQL."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client_factory: ClientFactory,
        *,
        config: WorkerConfig | None = None,
        handlers: dict[str, KindSpec] | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        observer: DeliveryObserver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.client_factory = client_factory
        self.config = config or WorkerConfig()
        self.handlers = HANDLERS if handlers is None else handlers
        self.clock = clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.observer = observer
        self.metrics = metrics or Metrics()

    # ── public ─────────────────────────────────────────────────────────────────────────────────

    def drain_once(self) -> int:
        """Claim, send and record one batch; return how many messages it handled (0: idle)."""
        self.reclaim_expired()
        claim = self.claim()
        if claim is None:
            return 0
        token = client_key_var.set(
            claim.installation.client_key if claim.installation is not None else "-"
        )
        try:
            parts, client = self._deliver(claim)
            # HttpJiraClient lists the requests it sent; a client without the list (a test's
            # fake at this seam) leaves the site's budget as it was.
            calls = list(getattr(client, "calls", ()))
            recorded = self._record(claim, parts, calls)
            self._count(claim, calls, recorded)
        finally:
            client_key_var.reset(token)
        return len(claim.batch.messages)

    def drain(self, max_batches: int | None = None) -> int:
        """Run batches until nothing is claimable (or ``max_batches``); return messages handled."""
        total = batches = 0
        while max_batches is None or batches < max_batches:
            handled = self.drain_once()
            if handled == 0:
                break
            total += handled
            batches += 1
        return total

    # ── step 0: expired leases ─────────────────────────────────────────────────────────────────

    def reclaim_expired(self) -> int:
        """Make messages whose lease expired claimable again; drop those a newer change replaced."""
        return claims.reclaim_expired(self.session_factory, self.clock())

    # ── step 1: claim ──────────────────────────────────────────────────────────────────────────

    def claim(self) -> Claim | None:
        """Claim the next batch under a lease and commit; ``None`` when nothing is claimable."""
        return claims.claim(
            self.session_factory,
            self.handlers,
            self.clock(),
            batch_size=self.config.batch_size,
            lease_seconds=self.config.lease_seconds,
            pacing=self.config.pacing,
        )

    # ── step 2: send ───────────────────────────────────────────────────────────────────────────

    def _deliver(self, claim: Claim) -> tuple[list[Part], JiraClient | None]:
        """The batch's parts and the client that sent them (it lists the calls it made)."""
        spec = self.handlers[claim.batch.kind]
        client: JiraClient | None = None
        if spec.needs_jira:
            if claim.installation is None:
                return [Part(claim.batch.messages, decision=_fail("no installation"))], None
            try:
                client = self.client_factory(claim.installation)
            except ClientUnavailable as e:
                decision = Decision(Action.PAUSE, str(e))
                return [Part(claim.batch.messages, decision=decision)], None
            except ClientNotReady as e:
                decision = Decision(Action.THROTTLE, str(e), e.retry_after)
                return [Part(claim.batch.messages, decision=decision)], None
        return self._send(spec, claim.batch, client, claim.token, first=True), client

    def _send(
        self,
        spec: KindSpec,
        batch: Batch,
        client: JiraClient | None,
        token: str,
        *,
        first: bool = False,
    ) -> list[Part]:
        if not first:
            self._renew_lease(token, batch.messages)
        try:
            outcome = spec.handler(batch, client)
        except JiraError as e:
            decision = classify(e)
        except ValueError as e:
            # A payload or batch this app built wrongly: retrying cannot help.
            logger.error("outbox batch rejected before sending kind=%s: %s", batch.kind, e)
            decision = _fail(str(e))
        except Exception as e:
            # Anything else (a handler of another kind, a bug) backs off and dead-letters after
            # the bound instead of leaving the rows to a lease expiry, over and over.
            logger.exception("outbox handler failed kind=%s", batch.kind)
            decision = Decision(Action.RETRY, f"{type(e).__name__}: {e}"[:1000])
        else:
            return [Part(batch.messages, outcome=outcome)]
        if decision.action is Action.SPLIT:
            if len(batch.messages) == 1:
                return [Part(batch.messages, decision=_fail(decision.reason))]
            half = len(batch.messages) // 2
            logger.info("jira said 413; splitting %s messages", len(batch.messages))
            parts = self._send(spec, batch.with_messages(batch.messages[:half]), client, token)
            halt = next(
                (
                    p.decision
                    for p in parts
                    if p.decision and p.decision.action in (Action.THROTTLE, Action.PAUSE)
                ),
                None,
            )
            if halt is not None:
                # The site asked us to stop; the second half waits with the first.
                return [*parts, Part(batch.messages[half:], decision=halt)]
            return parts + self._send(
                spec, batch.with_messages(batch.messages[half:]), client, token
            )
        return [Part(batch.messages, decision=decision)]

    def _renew_lease(self, token: str, messages: Sequence[Envelope]) -> None:
        lease = self.clock() + timedelta(seconds=self.config.lease_seconds)
        claims.renew_lease(self.session_factory, token, messages, lease)

    # ── step 3: record ─────────────────────────────────────────────────────────────────────────

    def _record(self, claim: Claim, parts: list[Part], calls: Sequence[JiraCall] = ()) -> Recorded:
        return outcomes.record(
            self.session_factory,
            claim,
            parts,
            policy=self.config.retry,
            rng=self.rng,
            clock=self.clock,
            observer=self.observer,
            calls=calls,
            pacing=self.config.pacing,
        )

    def _count(self, claim: Claim, calls: Sequence[JiraCall], recorded: Recorded) -> None:
        m = self.metrics
        site = claim.installation.client_key if claim.installation is not None else "-"
        for call in calls:
            outcome = "network" if call.status is None else f"{call.status // 100}xx"
            m.jira_requests.labels(call.endpoint, outcome).inc()
            m.jira_seconds.labels(call.endpoint).observe(call.seconds)
            if call.status == 429:
                m.jira_throttled.labels(site, call.quota.reason or "-").inc()
        kind = recorded.kind
        if recorded.delivered_ages:
            m.delivered.labels(kind, "accepted").inc(len(recorded.delivered_ages))
            histogram = m.delivery_seconds.labels(kind)
            for age in recorded.delivered_ages:
                histogram.observe(age)
        if recorded.failed:
            m.delivered.labels(kind, "rejected").inc(recorded.failed)


def _fail(reason: str) -> Decision:
    return Decision(Action.FAIL, reason)


# ── the worker process loop ────────────────────────────────────────────────────────────────────

Tick = Callable[[], int]


class StopFlag(Protocol):
    """What ends the loop: a ``threading.Event``, or a signal's ``SignalStop``."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def run_loop(
    ticks: Sequence[Tick],
    stop: StopFlag,
    *,
    idle_sleep_min: float = 0.05,
    idle_sleep_max: float = 1.0,
) -> None:
    """Call each tick in turn until ``stop`` is set; sleep only when every tick was idle.

    A tick returns how much work it did. Sleeping starts at ``idle_sleep_min`` and doubles up to
    ``idle_sleep_max`` while everything stays idle; any work resets it. A tick that raises is
    logged and counted as idle, so one broken job source (or a database blip) does not stop the
    others. ``stop`` is checked between ticks, so a SIGTERM ends the loop after the current batch.
    """
    sleep = idle_sleep_min
    while not stop.is_set():
        worked = 0
        for tick in ticks:
            if stop.is_set():
                return
            try:
                worked += tick()
            except Exception:
                logger.exception("worker tick %s failed", getattr(tick, "__name__", tick))
        if worked:
            sleep = idle_sleep_min
            continue
        stop.wait(sleep)
        sleep = min(idle_sleep_max, sleep * 2)
