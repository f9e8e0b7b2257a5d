"""searchContainers' query: the cards of an installation's components whose name contains a
string, exact match first, then names that start with it, then the rest, each in name order.

Jira searches as its user types, so the first characters of a name (which often match most of a
workspace) must cost what the page costs, not what the workspace holds. On SQLite the names that
start with the query come from a range of the ``(workspace_id, name_lower, id)`` index, read in
order up to the limit; the other matches come from the trigram index of migration 0017 (a
query of three characters or more) and only when the first part leaves room. PostgreSQL answers
in one statement, its planner choosing between that index walk and the pg_trgm index.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import column
from sqlalchemy import literal_column
from sqlalchemy import not_
from sqlalchemy import select
from sqlalchemy import table

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
_TRIGRAM_CANDIDATES = Component.id.in_(
    select(_NAME_TRIGRAMS.c.rowid).where(
        literal_column("components_fts").op("MATCH")(bindparam("phrase"))
    )
)


# Statements are built once with bound parameters: SQLAlchemy then reuses the memoised cache key
# and compiled SQL instead of rebuilding and hashing a new expression tree on every request.
@functools.cache
def _all_statement(*, in_workspace: bool) -> Select[*Card]:
    return _in_name_order(_visible(in_workspace))


@functools.cache
def _ranked_statement(*, in_workspace: bool) -> Select[*Card]:
    rank = case((Component.name_lower == bindparam("needle"), 0), (_STARTS, 1), else_=2)
    return _in_name_order(_visible(in_workspace).where(_CONTAINS).order_by(rank))


@functools.cache
def _starting_statement(*, in_workspace: bool) -> Select[*Card]:
    # In byte order every name that starts with the query lies in [query, after); the LIKE keeps
    # the answer exact. The exact match is the smallest of them, so it comes first.
    return _in_name_order(
        _visible(in_workspace).where(
            Component.name_lower >= bindparam("needle"),
            Component.name_lower < bindparam("after"),
            _STARTS,
        )
    )


@functools.cache
def _containing_statement(*, in_workspace: bool, trigrams: bool) -> Select[*Card]:
    query = _visible(in_workspace).where(_CONTAINS, not_(_STARTS))
    if not trigrams:
        return _in_name_order(query)
    # The trigram index narrows the candidates to names holding every trigram of the query; the
    # LIKE keeps the answer exactly the substring match. Left to itself SQLite would rather walk
    # the workspace's names in order (no sort) and look each one up among the candidates, which
    # reads the whole workspace when matches are few: ordering by ``+name_lower`` (SQLite's way
    # to keep an index out of a term) leaves it the candidates to start from.
    return (
        query.where(_TRIGRAM_CANDIDATES)
        .order_by(literal_column("+components.name_lower"), Component.id)
        .limit(MAX_CONTAINERS)
    )


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
) -> list[Row[*Card]]:
    """Cards of the components visible to the installation whose name contains ``search``
    (case-insensitively), best first: the exact name, names starting with it, then the rest,
    each in name order; at most :data:`MAX_CONTAINERS`."""
    in_workspace = workspace_id is not None
    params: dict[str, Any] = {"installation_id": installation_id}
    if in_workspace:
        params["workspace_id"] = workspace_id
    needle = search.strip().lower()
    if not needle:
        return list(connection.execute(_all_statement(in_workspace=in_workspace), params))
    escaped = _escape_like(needle)
    params.update(needle=needle, prefix=f"{escaped}%", contains=f"%{escaped}%")
    after = _after(needle)
    if connection.dialect.name != "sqlite" or after is None:
        return list(connection.execute(_ranked_statement(in_workspace=in_workspace), params))
    starting = _starting_statement(in_workspace=in_workspace)
    rows = list(connection.execute(starting, {**params, "after": after}))
    if len(rows) == MAX_CONTAINERS:
        return rows
    trigrams = len(needle) >= TRIGRAM
    if trigrams:
        params["phrase"] = _fts_phrase(needle)
    containing = _containing_statement(in_workspace=in_workspace, trigrams=trigrams)
    rest = connection.execute(containing, params).fetchmany(MAX_CONTAINERS - len(rows))
    return rows + list(rest)
