"""Client key → installation and its decrypted shared secret: the one place Jira calls look up.

Read-only calls (the type-ahead requests Jira makes most often) may use an installation whose
secret verified a token here in the last ``ttl`` seconds, which spares them a third of their
database work. The lifecycle routes forget an installation they change at once; a change made
by another process is seen within ``ttl``. A token that fails against a remembered secret is
tried again against the database, so a re-install's new secret is never refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import instrumentation as sa_instrumentation

from provider.connect.models import Installation
from provider.crypto import SecretBox

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000

# Built once: every request Jira signs runs this lookup.
_BY_CLIENT_KEY = select(Installation).where(Installation.client_key == bindparam("client_key"))


@dataclass(frozen=True, slots=True)
class Found:
    """An active installation and its secret; ``remembered`` when it came from the short memory."""

    installation: Installation
    secret: str
    remembered: bool = False


class InstallationStore:
    """Find active installations by client key, decrypting their secret."""

    def __init__(
        self, box: SecretBox, *, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.box = box
        self.ttl = ttl
        self.clock = clock
        self._recent: dict[str, tuple[float, dict[str, Any], str]] = {}
        self._lock = threading.Lock()

    def find(
        self,
        session: Session,
        client_key: str,
        *,
        recent: bool = False,
        disabled: bool = False,
    ) -> Found | None:
        """The active installation of ``client_key`` and its secret, or ``None``.

        ``recent``: a caller that only reads may take one verified in the last ``ttl`` seconds.
        ``disabled``: also a disabled (still installed) one, for the ``enabled`` callback.
        """
        if recent:
            hit = self._remembered(client_key)
            if hit is not None:
                return hit
        if "\x00" in client_key:
            return None  # PostgreSQL refuses NUL in text parameters; no client key holds one
        installation = session.scalars(_BY_CLIENT_KEY, {"client_key": client_key}).one_or_none()
        if installation is None or not (
            installation.active or (disabled and installation.installed)
        ):
            return None
        try:
            secret = self.box.decrypt(installation.shared_secret_encrypted)
        except ValueError:
            logger.error(
                "shared secret of client_key=%s cannot be decrypted; was SECRET_KEY changed?",
                client_key,
            )
            return None
        return Found(installation, secret)

    def remember(self, found: Found) -> None:
        """Keep an installation whose secret just verified a token, for ``ttl`` seconds."""
        if found.remembered:
            return
        row = found.installation
        values = {c.key: getattr(row, c.key) for c in Installation.__table__.columns}
        with self._lock:
            if len(self._recent) >= MAX_REMEMBERED:
                self._recent.clear()
            self._recent[row.client_key] = (self.clock() + self.ttl, values, found.secret)

    def forget(self, client_key: str) -> None:
        """Drop what is remembered of ``client_key`` (its lifecycle changed)."""
        with self._lock:
            self._recent.pop(client_key, None)

    def _remembered(self, client_key: str) -> Found | None:
        with self._lock:
            entry = self._recent.get(client_key)
        if entry is None or entry[0] < self.clock():
            return None
        # A transient copy per request: the read-only views that take it only read it. Built as
        # the ORM builds a loaded row (state, then the values), not through the constructor,
        # whose per-attribute events cost ten times as much.
        copy = _MANAGER.new_instance()
        copy.__dict__.update(entry[1])
        return Found(copy, entry[2], remembered=True)


_MANAGER = sa_instrumentation.manager_of_class(Installation)
