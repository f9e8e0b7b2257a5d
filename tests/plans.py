"""The database's plan for a statement, to show that a query reads an index range."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def explain(session: Session, statement: Any, params: dict[str, Any]) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` or PostgreSQL's ``EXPLAIN``, one line per plan node."""
    connection = session.connection()
    compiled = statement.compile(connection)
    values = compiled.construct_params(params)
    if connection.dialect.name == "sqlite":
        args: Any = tuple(values[name] for name in compiled.positiontup or ())
        sql = f"EXPLAIN QUERY PLAN {compiled.string}"
    else:
        args, sql = values, f"EXPLAIN {compiled.string}"
    return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(sql, args))
