"""Creates that arrive together are committed together, and each is answered once it is durable."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.intake import GroupCommit
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.service import create_request_row
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import create_workspace


@pytest.fixture
def factory(live: tuple[str, sessionmaker[Session]]) -> sessionmaker[Session]:
    """A database that commits for real (the app served beside it is not used)."""
    return live[1]


@pytest.fixture
def engine(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


@pytest.fixture
def workspace(factory: sessionmaker[Session]) -> Workspace:
    with factory.begin() as session:
        workspace, _key, _code = create_workspace(session, "Intake")
    return workspace


def _row(workspace: Workspace, alias: str) -> dict[str, Any]:
    body = AlertCreate.model_validate({"message": "disk full", "alias": alias})
    return create_request_row(ApiPrincipal(workspace), body)


def _stored(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return sorted(session.scalars(select(AlertRequest.alias)))


def test_a_lone_create_is_committed_at_once(
    factory: sessionmaker[Session], workspace: Workspace
) -> None:
    intake = GroupCommit(factory)
    intake.insert(_row(workspace, "alone"))
    assert _stored(factory) == ["alone"]


def test_creates_queued_behind_a_busy_transaction_share_one_commit(
    engine: Engine, factory: sessionmaker[Session], workspace: Workspace
) -> None:
    """The leader waits to begin; the creates arriving meanwhile are in its commit."""
    gate = threading.Event()
    commits: list[int] = []

    def held(_conn: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            gate.wait(10)

    event.listen(engine, "begin", held)
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    intake = GroupCommit(factory)
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            intake.insert(_row(workspace, f"alias-{n}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while intake.waiting() < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert intake.waiting() == 8  # the leader's row and seven behind it
    gate.set()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(commits) == 1
    assert _stored(factory) == [f"alias-{n}" for n in range(8)]


def test_a_row_that_cannot_be_written_fails_alone(
    factory: sessionmaker[Session], workspace: Workspace
) -> None:
    intake = GroupCommit(factory)
    rows = [_row(workspace, f"alias-{n}") for n in range(3)]
    rows[1]["public_id"] = rows[0]["public_id"]  # a unique column twice: the batch fails
    outcome = intake.write(rows)
    assert outcome[0] is None
    assert isinstance(outcome[1], IntegrityError)
    assert outcome[2] is None
    assert _stored(factory) == ["alias-0", "alias-2"]


def test_the_caller_hears_its_own_rows_failure(
    factory: sessionmaker[Session], workspace: Workspace
) -> None:
    intake = GroupCommit(factory)
    row = _row(workspace, "first")
    intake.insert(row)
    again = {**_row(workspace, "again"), "public_id": row["public_id"]}
    with pytest.raises(IntegrityError):
        intake.insert(again)
    intake.insert(_row(workspace, "after"))  # the next caller leads again
    assert _stored(factory) == ["after", "first"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(AlertRequest)) == 2
