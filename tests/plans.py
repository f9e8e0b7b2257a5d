"""The database's plan for a statement, to show that a query reads an index range."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def explain(session: Session, statement: Any, params: dict[str, Any]) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` or PostgreSQL's ``EXPLAIN``, one line per plan node."""
    connection = session.connection()
    # Expanding lists (``IN``) are written out for the values given.
    expanded = statement.compile(connection).construct_expanded_state(params)
    values = expanded.parameters
    if connection.dialect.name == "sqlite":
        args: Any = tuple(values[name] for name in expanded.positiontup or ())
        sql = f"EXPLAIN QUERY PLAN {expanded.statement}"
    else:
        args, sql = values, f"EXPLAIN {expanded.statement}"
    return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(sql, args))
