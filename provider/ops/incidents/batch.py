"""What the incidents listener knows of a batch's alerts: their incidents, promotion candidates
and latest timeline entries.

Every alert change asks which incident its alert belongs to, drops the alert's promotion
candidate, and finds the alert's latest timeline entry and whether news came after it. Asked per
change, that was four statements of the seven or eight a change cost in a storm, each flushing
the changes before it. :class:`BatchIncidents` reads them for every alert of a batch in four
statements when the batch begins and keeps them current as the batch's changes attach alerts,
set or drop candidates and record entries; the candidates and the entries are written with the
batch's other changes, not one statement each. It also keeps which incident collects on the
batch's locked components. It lives for one transaction (the batch's): the listener uses it
only there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from typing import TypeVar
from typing import cast

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from provider.db import among
from provider.db import upsert_insert
from provider.ops.incidents.models import NEWS_PREDICATE
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentEvent
from provider.ops.incidents.models import PromotionCandidate
from provider.ops.sync import service as sync

T = TypeVar("T")

# Which incident each alert belongs to, as plain pairs, then each incident once: a batch's alerts
# share a few incidents, and an incident entity per alert row cost the ORM's row processing of
# every incident column for each alert.
_INCIDENT_IDS = select(IncidentAlert.alert_id, IncidentAlert.incident_id).where(
    among(IncidentAlert.alert_id, "alert_ids")
)
_INCIDENTS = select(Incident).where(among(Incident.id, "incident_ids"))
_CANDIDATES = select(PromotionCandidate.alert_id).where(
    among(PromotionCandidate.alert_id, "alert_ids")
)
_INCIDENT_OF_ALERT = (
    select(Incident)
    .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
    .where(IncidentAlert.alert_id == bindparam("alert_id"))
)
# Candidates are only ever written through these two statements, never loaded as entities to
# change, so nothing in a session needs synchronizing with them: the ORM's evaluation of a
# DELETE against every object of the session was a twentieth of a storm's worker time.
_DROP_CANDIDATES = (
    delete(PromotionCandidate)
    .where(among(PromotionCandidate.alert_id, "alert_ids"))
    .execution_options(synchronize_session=False)
)


def set_candidate(session: Session, alert_id: int, workspace_id: int, due_at: datetime) -> None:
    """The alert is due for promotion at ``due_at`` (replacing an earlier due time)."""
    set_candidates(
        session, [{"alert_id": alert_id, "workspace_id": workspace_id, "due_at": due_at}]
    )


def set_candidates(session: Session, rows: list[dict[str, Any]]) -> None:
    """:func:`set_candidate` for each row (``alert_id``, ``workspace_id``, ``due_at``)."""
    session.execute(_set_candidate(upsert_insert(session)), rows)


@functools.cache
def _set_candidate(insert: Callable[[type[PromotionCandidate]], Any]) -> Any:
    """Built once per dialect: building it for every waiting alert cost more than running it."""
    statement = insert(PromotionCandidate).values(
        alert_id=bindparam("alert_id"),
        workspace_id=bindparam("workspace_id"),
        due_at=bindparam("due_at"),
    )
    return statement.on_conflict_do_update(
        index_elements=["alert_id"], set_={"due_at": statement.excluded.due_at}
    )


# Each reads one index range (migration 0018), however many alerts the incident has.
_ALERTS_LAST_ENTRY = (
    select(IncidentEvent)
    .where(
        IncidentEvent.alert_id == bindparam("alert_id"),
        IncidentEvent.incident_id == bindparam("incident_id"),
    )
    .order_by(IncidentEvent.alert_id.desc(), IncidentEvent.id.desc())
    .limit(1)
)
# The predicate spelled as the partial index spells it, so the planners can use the index.
_NEWS_SINCE = (
    select(IncidentEvent.id)
    .where(
        IncidentEvent.incident_id == bindparam("incident_id"),
        text(NEWS_PREDICATE),
        IncidentEvent.id > bindparam("after"),
    )
    .order_by(IncidentEvent.incident_id, IncidentEvent.id)
    .limit(1)
)
_LAST_ENTRIES = select(IncidentEvent).where(
    IncidentEvent.id.in_(
        select(func.max(IncidentEvent.id))
        .where(among(IncidentEvent.alert_id, "alert_ids"))
        .group_by(IncidentEvent.alert_id, IncidentEvent.incident_id)
    )
)
# An alert's "fired again" entries rewritten by a batch, one executemany when it ends (see
# TimelineTail.repeated).
REWRITTEN_COLUMNS = ("text", "at", "detail")
_REWRITE_ENTRIES = (
    update(cast(Table, IncidentEvent.__table__))
    .where(cast(Table, IncidentEvent.__table__).c.id == bindparam("entry_id"))
    .values({column: bindparam(column) for column in REWRITTEN_COLUMNS})
)
_NEWEST_NEWS = (
    select(IncidentEvent.incident_id, func.max(IncidentEvent.id))
    .where(
        among(IncidentEvent.incident_id, "incident_ids"),
        text(NEWS_PREDICATE),
    )
    .group_by(IncidentEvent.incident_id)
)


def incident_of_alert(session: Session, alert_id: int) -> Incident | None:
    return session.scalars(_INCIDENT_OF_ALERT, {"alert_id": alert_id}).first()


def drop_candidate(session: Session, alert_id: int) -> None:
    session.execute(_DROP_CANDIDATES, {"alert_ids": [alert_id]})


class BatchIncidents:
    """Per alert id: its incident (``None``: none) and whether it has a candidate, for the
    alerts read; an alert not read is looked up (and then known) on first use. The incidents
    are held here, not only in the session's identity map, which holds them weakly."""

    __slots__ = (
        "_candidates",
        "_collecting",
        "_components",
        "_incident_of",
        "_read",
        "_unpublished",
        "_unwritten",
        "locked_components",
        "tail",
    )

    def __init__(self, *, publish_at_end: bool = False) -> None:
        self._incident_of: dict[int, Incident | None] = {}
        # alert id -> whether a candidate row exists
        self._candidates: dict[int, bool] = {}
        self._read: dict[Hashable, Any] = {}
        self.tail = TimelineTail(deferred=publish_at_end)
        # Components whose rows this transaction has locked: a lock holds until it ends, so the
        # batch's later alerts on them need not lock them again.
        self.locked_components: set[int] = set()
        # With ``publish_at_end``, the incidents the batch changes are published once, in their
        # final state, by :meth:`publish_changed`: publishing writes the incident's description
        # and an outbox row, and a storm's batch changes the same few incidents again and again.
        self._unpublished: dict[int, Incident] | None = {} if publish_at_end else None
        # Likewise the promotion candidates (alert id -> (workspace id, due time), or None to
        # drop): in a storm every repeat of a waiting alert set its candidate again, a statement
        # (and a flush of the changes before it) per request. Nothing reads the table meanwhile:
        # promotion by time runs in transactions of its own.
        self._unwritten: dict[int, tuple[int, datetime] | None] | None = (
            {} if publish_at_end else None
        )
        # Components -> the open incident collecting alerts on them (None: none), as read or
        # as the batch's joins made it. The components are locked until the transaction ends,
        # and only promotion opens incidents on them while holding them.
        self._collecting: dict[tuple[int, ...], Incident | None] = {}
        # incident id -> its components, as read once and added to by the batch's joins
        self._components: dict[int, set[int]] = {}

    def remember(self, key: Hashable, read: Callable[[], T]) -> T:
        """What ``read`` returns, read once per batch: for a workspace's configuration (its
        rules, mappings, fallback component), which no change of the batch alters."""
        if key not in self._read:
            self._read[key] = read()
        return cast(T, self._read[key])

    def publish(self, session: Session, incident: Incident) -> None:
        """Send ``incident`` to the sites linking its workspace: now, or when the batch ends."""
        if self._unpublished is None:
            sync.publish(session, incident)
        else:
            self._unpublished[incident.id] = incident

    def finish(self, session: Session) -> None:
        """Write the batch's timeline rewrites and promotion candidates, and publish the
        incidents it changed."""
        self.tail.write(session)
        self.write_candidates(session)
        self.publish_changed(session)

    def write_candidates(self, session: Session) -> None:
        """Set and drop the candidates the batch's changes decided on, in two statements."""
        if not self._unwritten:
            return
        dropped = sorted(a for a, due in self._unwritten.items() if due is None)
        rows = [
            {"alert_id": a, "workspace_id": due[0], "due_at": due[1]}
            for a, due in sorted(self._unwritten.items())
            if due is not None
        ]
        self._unwritten.clear()
        if dropped:
            session.execute(_DROP_CANDIDATES, {"alert_ids": dropped})
        if rows:
            set_candidates(session, rows)

    def publish_changed(self, session: Session) -> None:
        """Publish each incident the batch changed, once (see ``publish_at_end``)."""
        if self._unpublished:
            for _id, incident in sorted(self._unpublished.items()):
                sync.publish(session, incident)
            self._unpublished.clear()

    @classmethod
    def load(cls, session: Session, alert_ids: Iterable[int]) -> BatchIncidents:
        """What a batch of alert changes needs of ``alert_ids``' incidents, read at once; its
        incidents are published when the batch ends (:meth:`publish_changed`)."""
        known = cls(publish_at_end=True)
        ids = sorted(set(alert_ids))
        if not ids:
            return known
        known._incident_of = dict.fromkeys(ids)
        known._candidates = dict.fromkeys(ids, False)
        pairs = session.execute(_INCIDENT_IDS, {"alert_ids": ids}).all()
        if pairs:
            wanted = sorted({incident_id for _, incident_id in pairs})
            incidents = {i.id: i for i in session.scalars(_INCIDENTS, {"incident_ids": wanted})}
            for alert_id, incident_id in pairs:
                known._incident_of[alert_id] = incidents[incident_id]
        for alert_id in session.scalars(_CANDIDATES, {"alert_ids": ids}):
            known._candidates[alert_id] = True
        known.tail = TimelineTail.load(
            session,
            ((i.id, alert_id) for alert_id, i in known._incident_of.items() if i is not None),
            deferred=True,
        )
        return known

    def new_alert(self, alert_id: int) -> None:
        """An alert this transaction inserted: no incident and no candidate can name it yet."""
        self._incident_of[alert_id] = None
        self._candidates[alert_id] = False

    def incident_of(self, session: Session, alert_id: int) -> Incident | None:
        if alert_id not in self._incident_of:
            self._incident_of[alert_id] = incident_of_alert(session, alert_id)
        return self._incident_of[alert_id]

    def joined(self, alert_id: int, incident: Incident, component_ids: Sequence[int]) -> None:
        """The alert joined (or opened) ``incident``, which now collects on ``component_ids``
        (the first such incident, as :meth:`collecting` found none or it)."""
        self._incident_of[alert_id] = incident
        for key in [k for k in self._collecting if not set(component_ids).isdisjoint(k)]:
            del self._collecting[key]
        self._collecting[tuple(component_ids)] = incident

    def resolved(self) -> None:
        """An incident of the batch was resolved: it collects no more."""
        self._collecting.clear()

    def deleted(self, alert_id: int) -> None:
        """The alert's row is gone, and its candidate with it."""
        if self._unwritten is not None:
            self._unwritten.pop(alert_id, None)
        self._candidates[alert_id] = False

    def collecting(
        self, component_ids: Sequence[int], read: Callable[[], Incident | None]
    ) -> Incident | None:
        """The open incident collecting alerts on ``component_ids`` (which this transaction has
        locked), as ``read`` returns it once; the batch's joins and resolutions keep it current."""
        key = tuple(component_ids)
        if key not in self._collecting:
            self._collecting[key] = read()
        return self._collecting[key]

    def components_of(self, incident_id: int, read: Callable[[], set[int]]) -> set[int]:
        """The incident's components, as ``read`` returns them once; the batch's joins add to
        the set the ones they add to the incident."""
        if incident_id not in self._components:
            self._components[incident_id] = read()
        return self._components[incident_id]

    def drop_candidate(self, session: Session, alert_id: int) -> None:
        if self._candidates.get(alert_id) is False:
            return
        if self._unwritten is not None:
            self._unwritten[alert_id] = None
        else:
            drop_candidate(session, alert_id)
        self._candidates[alert_id] = False

    def set_candidate(
        self, session: Session, alert_id: int, workspace_id: int, due_at: datetime
    ) -> None:
        if self._unwritten is not None:
            self._unwritten[alert_id] = (workspace_id, due_at)
        else:
            set_candidate(session, alert_id, workspace_id, due_at)
        self._candidates[alert_id] = True


class TimelineTail:
    """Per (incident, alert): the alert's latest entry on the incident's timeline; per incident:
    whether an entry that is news came after a given one. What was not read is looked up on
    first use.

    Kept current by :mod:`~provider.ops.incidents.timeline` through :meth:`recorded`; whoever
    records other entries of an incident meanwhile (all of them news) calls :meth:`news`. The
    entries recorded here are ordered by when they were recorded, not by their ids: they are
    written with the batch's other changes, so they have none until then.

    A ``deferred`` tail (a batch's) also keeps the "fired again" entries it rewrites
    (:meth:`repeated`) out of the session's flush and writes them in one statement when the
    batch ends (:meth:`write`): in a storm nearly every repeat rewrites one, and the unit of
    work's bookkeeping per entry cost more than the statement.
    """

    __slots__ = ("_last", "_news", "_news_tick", "_rewritten", "_tick", "_ticks")

    def __init__(self, *, deferred: bool = False) -> None:
        self._rewritten: dict[IncidentEvent, None] | None = {} if deferred else None
        self._last: dict[tuple[int, int], IncidentEvent | None] = {}
        # incident id -> the id of its newest entry that is news, as read
        self._news: dict[int, int] = {}
        # entry recorded here -> when; incident id -> when news was last recorded for it here
        self._ticks: dict[IncidentEvent, int] = {}
        self._news_tick: dict[int, int] = {}
        self._tick = 0

    @classmethod
    def load(
        cls, session: Session, pairs: Iterable[tuple[int, int]], *, deferred: bool = False
    ) -> TimelineTail:
        """Read the tails of these ``(incident id, alert id)`` pairs, in two statements."""
        tail = cls(deferred=deferred)
        wanted = set(pairs)
        if not wanted:
            return tail
        tail._last = dict.fromkeys(wanted)
        alert_ids = sorted({alert_id for _, alert_id in wanted})
        for entry in session.scalars(_LAST_ENTRIES, {"alert_ids": alert_ids}):
            key = (entry.incident_id, entry.alert_id or 0)
            if key in wanted:
                tail._last[key] = entry
        incident_ids = sorted({incident_id for incident_id, _ in wanted})
        tail._news = dict.fromkeys(incident_ids, 0)
        for incident_id, newest in session.execute(_NEWEST_NEWS, {"incident_ids": incident_ids}):
            tail._news[incident_id] = newest
        return tail

    def last_entry(self, session: Session, incident_id: int, alert_id: int) -> IncidentEvent | None:
        key = (incident_id, alert_id)
        if key not in self._last:
            self._last[key] = session.scalars(
                _ALERTS_LAST_ENTRY, {"incident_id": incident_id, "alert_id": alert_id}
            ).first()
        return self._last[key]

    def news_since(self, session: Session, incident_id: int, entry: IncidentEvent) -> bool:
        """Whether an entry that is news came after ``entry``, one of the incident's."""
        newest = self._news_tick.get(incident_id)
        tick = self._ticks.get(entry)
        if tick is not None:
            return newest is not None and newest > tick
        if newest is not None:
            return True  # recorded here, so after every entry that was read
        if incident_id in self._news:
            return self._news[incident_id] > entry.id
        found = session.scalar(_NEWS_SINCE, {"incident_id": incident_id, "after": entry.id})
        return found is not None

    def recorded(self, entry: IncidentEvent) -> None:
        self._tick += 1
        self._ticks[entry] = self._tick
        if entry.alert_id is not None:
            self._last[(entry.incident_id, entry.alert_id)] = entry
        if entry.kind is not EventKind.ALERT_REPEATED:
            self._news_tick[entry.incident_id] = self._tick

    def repeated(self, entry: IncidentEvent, line: str, count: int, at: datetime) -> None:
        """Rewrite an alert's "fired again" entry to ``line``, for its new ``count``."""
        detail = {**(entry.detail or {}), "count": count}
        if self._rewritten is None:
            entry.text, entry.at, entry.detail = line, at, detail
            return
        # No ORM history: write() sends them (an entry recorded here and not yet inserted is
        # inserted with them too).
        set_committed_value(entry, "text", line)
        set_committed_value(entry, "at", at)
        set_committed_value(entry, "detail", detail)
        self._rewritten[entry] = None

    def write(self, session: Session) -> None:
        """Write the entries :meth:`repeated` rewrote, as they are now."""
        if not self._rewritten:
            return
        session.flush()  # the entries recorded here get their ids
        rows = [
            {"entry_id": entry.id, **{c: getattr(entry, c) for c in REWRITTEN_COLUMNS}}
            for entry in self._rewritten
        ]
        self._rewritten.clear()
        session.execute(_REWRITE_ENTRIES, rows)

    def news(self, incident_id: int) -> None:
        """Entries that are news, none of them an alert's own, were recorded for the incident."""
        self._tick += 1
        self._news_tick[incident_id] = self._tick
