"""searchContainers' query: the cards of an installation's components whose name contains a
string, exact match first, then names that start with it, then the rest, each in name order.

Jira searches as its user types, so the first characters of a name (which often match most of a
workspace) must cost what the page costs, not what the workspace holds. The names that start
with the query are read first, in name order up to the limit (on SQLite a range of the
``(workspace_id, name_lower, id)`` index); the names that merely contain it are read only when
room is left, from a trigram index (SQLite's of migration 0017 for a query of three characters
or more; PostgreSQL's planner takes pg_trgm's of migration 0008 when it pays).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import column
from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import not_
from sqlalchemy import select
from sqlalchemy import table

from provider.db import PlainSelect
from provider.ops.components.models import Component
from provider.ops.workspaces.service import Workspace
from provider.ops.workspaces.service import WorkspaceLink

MAX_CONTAINERS = 200

# What a container card shows: only these columns are read, as plain rows (no ORM entities).
Card = tuple[str, str, str | None, str | None, datetime]
_CARD_COLUMNS = (
    Component.public_id,
    Component.name,
    Component.url,
    Component.avatar_url,
    Component.updated_at,
)
_LINKED_WORKSPACES = select(WorkspaceLink.workspace_id).where(
    WorkspaceLink.installation_id == bindparam("installation_id")
)
# SQLite's trigram index of component names (migration 0017); its rowid is the component's id.
_NAME_TRIGRAMS = table("components_fts", column("rowid"))
# A trigram index finds substrings of three characters or more; a shorter query reads the names.
TRIGRAM = 3
_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def _visible(in_workspace: bool) -> Select[*Card]:
    # Starting from the workspace ids (one linked workspace when Jira names it) lets both
    # databases walk the (workspace_id, name_lower, id) index in name order and stop at the
    # limit, instead of joining every component of the site's workspaces first.
    query = select(*_CARD_COLUMNS)
    if in_workspace:
        return query.where(
            Component.workspace_id
            == select(Workspace.id)
            .where(
                Workspace.public_id == bindparam("workspace_id"),
                Workspace.id.in_(_LINKED_WORKSPACES),
            )
            .scalar_subquery()
        )
    return query.where(Component.workspace_id.in_(_LINKED_WORKSPACES))


def _in_name_order(query: Select[*Card]) -> Select[*Card]:
    return query.order_by(Component.name_lower, Component.id).limit(MAX_CONTAINERS)


_STARTS = Component.name_lower.like(bindparam("prefix"), escape="\\")
_CONTAINS = Component.name_lower.like(bindparam("contains"), escape="\\")
_MATCHING_NAMES = select(_NAME_TRIGRAMS.c.rowid).where(
    literal_column("components_fts").op("MATCH")(bindparam("phrase"))
)
# Above this many candidates (in every workspace) the names are walked in order instead.
DENSE = 2000
_CANDIDATES = _MATCHING_NAMES.limit(DENSE + 1)
# The candidates, once read, go back as a JSON array: a trigram phrase over a large index costs
# far more than its few matches, and would otherwise be evaluated a second time.
_TRIGRAM_CANDIDATES = Component.id.in_(
    select(column("value")).select_from(func.json_each(bindparam("candidates")))
)


# Statements are built once with bound parameters: SQLAlchemy then reuses the memoised cache key
# and compiled SQL instead of rebuilding and hashing a new expression tree on every request.
@functools.cache
def _all_statement(*, in_workspace: bool) -> Select[*Card]:
    return _in_name_order(_visible(in_workspace))


@functools.cache
def _starting_statement(*, in_workspace: bool, order: str) -> Select[*Card]:
    # In byte order the names that start with the query are exactly those in [query, after): a
    # range of an index read in order up to the limit, wherever in the workspace's names it
    # lies. The exact match is the smallest name in it, so it comes first. SQLite compares
    # bytes; PostgreSQL's collation may not, so there the range is of the bytewise index of
    # migration 0017 (and the names in it come in byte order). The range alone, without a LIKE,
    # also keeps PostgreSQL's generic plan of the prepared statement (which knows no values)
    # on that index. "like" (no bound can be written after U+10FFFF) walks in name order.
    if order == "like":
        return _in_name_order(_visible(in_workspace).where(_STARTS))
    name: Any = Component.name_lower
    if order == "postgresql":
        name = Component.name_lower.collate("C")
    query = _visible(in_workspace).where(name >= bindparam("needle"), name < bindparam("after"))
    return query.order_by(name, Component.id).limit(MAX_CONTAINERS)


@functools.cache
def _containing_statement(*, in_workspace: bool, trigrams: bool) -> Select[*Card]:
    query = _visible(in_workspace).where(_CONTAINS, not_(_STARTS))
    if not trigrams:
        return _in_name_order(query)
    # The trigram index narrows the candidates to names holding every trigram of the query; the
    # LIKE keeps the answer exactly the substring match. Ordered by name alone SQLite would walk
    # the workspace's names in order and look each one up among the candidates, which reads the
    # whole workspace when matches are few: ordering by ``+name_lower`` (SQLite's way to keep an
    # index out of a term) makes it start from the candidates.
    return (
        query.where(_TRIGRAM_CANDIDATES)
        .order_by(literal_column("+components.name_lower"), Component.id)
        .limit(MAX_CONTAINERS)
    )


@functools.cache
def _plain(statement: Select[Any]) -> PlainSelect:
    # Run on the cursor (see PlainSelect): Jira calls this as its user types.
    return PlainSelect(statement)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(needle: str) -> str:
    # One FTS5 string: every character literal, a double quote doubled.
    return '"' + needle.replace('"', '""') + '"'


def _after(needle: str) -> str | None:
    """The smallest string above every string that starts with ``needle``, in code point
    order (SQLite's byte order of UTF-8); None when there is none to write."""
    last = ord(needle[-1]) + 1
    if last in _SURROGATES:
        last = _SURROGATES.stop
    if last > _LAST_CODE_POINT:
        return None
    return needle[:-1] + chr(last)


def find_containers(
    connection: Connection, installation_id: int, search: str, workspace_id: str | None
) -> list[Card]:
    """Cards of the components visible to the installation whose name contains ``search``
    (case-insensitively), best first: the exact name, names starting with it, then the rest,
    each in name order; at most :data:`MAX_CONTAINERS`."""
    in_workspace = workspace_id is not None
    params: dict[str, Any] = {"installation_id": installation_id}
    if in_workspace:
        params["workspace_id"] = workspace_id
    needle = search.strip().lower()
    if not needle:
        return _plain(_all_statement(in_workspace=in_workspace)).rows(connection, params)
    escaped = _escape_like(needle)
    params.update(needle=needle, prefix=f"{escaped}%", contains=f"%{escaped}%")
    dialect = connection.dialect.name
    after = _after(needle)
    if after is not None:
        params["after"] = after
    order = dialect if after is not None and dialect in ("sqlite", "postgresql") else "like"
    starting = _starting_statement(in_workspace=in_workspace, order=order)
    rows: list[Card] = _plain(starting).rows(connection, params)
    if len(rows) == MAX_CONTAINERS:
        return rows
    trigrams = False
    if dialect == "sqlite" and len(needle) >= TRIGRAM:
        params["phrase"] = _fts_phrase(needle)
        # Many candidates (the query is in most names) are better met walking the workspace's
        # names in order, which stops at the limit, than sorted; the read stops at the bound.
        candidates = [row[0] for row in _plain(_CANDIDATES).rows(connection, params)]
        if not candidates:
            # No name holds the query's trigrams (a typo, an empty site): none contains it.
            return rows
        trigrams = len(candidates) <= DENSE
        if trigrams:
            params["candidates"] = json.dumps(candidates)
    containing = _containing_statement(in_workspace=in_workspace, trigrams=trigrams)
    return rows + _plain(containing).rows(connection, params, limit=MAX_CONTAINERS - len(rows))
