"""searchContainers' substring match: exactly the names that contain the query, whichever index
serves it (SQLite's trigram table, PostgreSQL's pg_trgm index, or a read of the names for a query
shorter than a trigram), and only the calling installation's components."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from alembic import command
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from provider import migrate
from provider.config import Settings
from provider.connect.models import Installation
from provider.db import make_engine
from provider.ops.components import search
from provider.ops.components.models import Component
from provider.ops.components.search import MAX_CONTAINERS
from provider.ops.components.search import find_containers
from provider.ops.workspaces.models import Workspace
from tests.installs import make_installation
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace
from tests.plans import explain
from tests.signing import JiraSigner
from tests.test_app import assert_error

NAMES = [
    "Checkout-API",
    "pre-checkout",
    "100%_done",
    "50% off_sale",
    'it\'s "quoted"',
    'say "hi"',
    "back\\slash",
    "Zürich-Gateway",
    "ZÜRICH-backup",
    "支付服务",
    "café ☕ api",
    "NEAR AND OR NOT",
    "star*(paren):caret^",
    "ab",
    "x",
    "edge\U0010ffff-case",
]


@pytest.fixture
def ours(session: Session, signer: JiraSigner) -> Installation:
    return make_installation(session, signer)


@pytest.fixture
def shop(session: Session, ours: Installation, settings: Settings) -> Workspace:
    """Our workspace with every name above; the same names in a workspace of another site and in
    an unlinked one, which must never show."""
    shop = make_workspace(session, "Shop")
    link(session, ours, shop)
    theirs = make_installation(session, JiraSigner(app_base_url=settings.base_url))
    foreign = make_workspace(session, "Foreign")
    link(session, theirs, foreign)
    unlinked = make_workspace(session, "Unlinked")
    for name in NAMES:
        for workspace in (shop, foreign, unlinked):
            make_component(session, workspace, name)
    session.commit()
    return shop


def _expected(names: list[str], query: str) -> list[str]:
    """The names containing ``query`` (case-insensitively), exact then prefix then substring."""
    needle = query.strip().lower()
    matches = [n for n in names if needle in n.lower()]

    def rank(name: str) -> tuple[int, str]:
        lower = name.lower()
        return (0 if lower == needle else 1 if lower.startswith(needle) else 2, lower)

    return sorted(matches, key=rank)[:MAX_CONTAINERS]


def _search(
    session: Session, installation: Installation, query: str, workspace: Workspace | None
) -> list[str]:
    workspace_id = workspace.public_id if workspace else None
    rows = find_containers(session.connection(), installation.id, query, workspace_id)
    return [str(row.name) for row in rows]


@pytest.mark.parametrize(
    "query",
    [
        "checkout",
        "CHECKOUT-api",
        "%",
        "_",
        "0%_",
        "% o",
        "'s \"q",
        '"',
        '""',
        "\\",
        "k\\s",
        "ÜRICH",
        "zürich",
        "付服",
        "支付服",
        "☕ a",
        "near and",
        "*(p",
        "):c",
        "^",
        "ab",
        "a",
        "  gateway  ",
        "no such name",
        "edge\U0010ffff",
        "ge\U0010ffff-",
    ],
)
def test_search_matches_exactly_the_names_containing_the_query(
    client: FlaskClient, signer: JiraSigner, shop: Workspace, query: str
) -> None:
    for scope in ({}, {"workspaceId": shop.public_id}):
        url = "/containers/search?" + urlencode({"searchQuery": query, **scope}, quote_via=quote)
        response = signer.get(client, url)
        assert response.status_code == 200, response.get_data(as_text=True)
        names = [c["name"] for c in response.get_json()["containers"]]
        assert names == _expected(NAMES, query), (query, scope)


@pytest.mark.parametrize("query", ["searchQuery=abc%00d", "searchQuery=%00", "workspaceId=w%00"])
def test_a_nul_in_the_query_is_400(
    client: FlaskClient, signer: JiraSigner, shop: Workspace, query: str
) -> None:
    assert_error(signer.get(client, f"/containers/search?{query}"), 400, "invalid_characters")


@hyp_settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.text(st.sampled_from("".join(sorted(set("".join(NAMES))))), max_size=6))
def test_any_query_finds_what_a_substring_test_finds(
    session: Session, ours: Installation, shop: Workspace, query: str
) -> None:
    assert _search(session, ours, query, shop) == _expected(NAMES, query)
    assert _search(session, ours, query, None) == _expected(NAMES, query)


def test_the_index_follows_inserts_renames_and_deletes(
    session: Session, ours: Installation, shop: Workspace
) -> None:
    added = make_component(session, shop, "Freshly-Added")
    session.commit()
    assert _search(session, ours, "shly-ad", shop) == ["Freshly-Added"]

    added.name, added.name_lower = "Renamed-Thing", "renamed-thing"
    session.commit()
    assert _search(session, ours, "shly-ad", shop) == []
    assert _search(session, ours, "med-th", shop) == ["Renamed-Thing"]

    session.delete(added)
    session.commit()
    assert _search(session, ours, "med-th", shop) == []
    _assert_index_in_step(session)


def test_a_deleted_workspace_leaves_nothing_in_the_index(
    session: Session, ours: Installation, shop: Workspace
) -> None:
    ids = list(
        session.scalars(text("SELECT id FROM components WHERE workspace_id = :w"), {"w": shop.id})
    )
    session.delete(shop)
    session.commit()
    assert (
        session.scalar(
            text("SELECT count(*) FROM components WHERE workspace_id = :w"), {"w": shop.id}
        )
        == 0
    )
    _assert_index_in_step(session)
    if session.get_bind().dialect.name == "sqlite":
        found = session.scalars(
            text("SELECT rowid FROM components_fts WHERE components_fts MATCH '\"zürich\"'")
        ).all()
        assert not set(found) & set(ids)


def test_a_bulk_insert_is_indexed_and_dense_matches_are_found_in_order(
    session: Session, ours: Installation, shop: Workspace
) -> None:
    # Rows written without the ORM's unit of work (as seeds and imports do) are indexed too;
    # more candidates than DENSE take the walk in name order instead of the trigram index.
    n = search.DENSE + 100
    session.execute(
        Component.__table__.insert(),
        [
            {
                "public_id": f"bulk-{i}",
                "workspace_id": shop.id,
                "name": f"Bulk-{i:04d}",
                "name_lower": f"bulk-{i:04d}",
                "description": "",
            }
            for i in reversed(range(n))
        ],
    )
    session.commit()
    names = [f"Bulk-{i:04d}" for i in range(n)]
    assert _search(session, ours, "lk-012", shop) == _expected(names, "lk-012")
    assert _search(session, ours, "ulk-", shop) == names[:MAX_CONTAINERS]
    assert _search(session, ours, "bulk-1", shop) == names[1000 : 1000 + MAX_CONTAINERS]
    _assert_index_in_step(session)


def _assert_index_in_step(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        return
    # FTS5 compares its index with the components table and fails loudly when they differ.
    session.execute(
        text("INSERT INTO components_fts(components_fts, rank) VALUES ('integrity-check', 1)")
    )


def test_many_matches_come_exact_then_prefix_then_substring(
    session: Session, ours: Installation, shop: Workspace
) -> None:
    names: list[Any] = []
    for i in range(30):
        names.append(make_component(session, shop, f"svc-{29 - i:02d}-tail").name)
    make_component(session, shop, "svc")
    make_component(session, shop, "my-svc")
    session.commit()
    assert _search(session, ours, "svc", shop) == ["svc", *sorted(names), "my-svc"]


@pytest.mark.parametrize("trigrams", [True, False])
def test_sqlite_plans_read_indexes_not_the_workspace(
    session: Session, ours: Installation, shop: Workspace, trigrams: bool
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL's are below")
    params = {
        "installation_id": ours.id,
        "workspace_id": shop.public_id,
        "needle": "zür",
        "after": "züs",
        "prefix": "zür%",
        "contains": "%zür%",
        "phrase": '"zür"',
        "candidates": "[1, 2, 3]",
    }
    starting = explain(
        session, search._starting_statement(in_workspace=True, order="sqlite"), params
    )
    assert (
        "ix_components_workspace_name (workspace_id=? AND name_lower>? AND name_lower<?)"
        in starting
    )
    assert "TEMP B-TREE" not in starting
    containing = explain(
        session, search._containing_statement(in_workspace=True, trigrams=trigrams), params
    )
    # With the trigram index's candidates (read once, passed back) they are looked up by id,
    # not the workspace walked.
    assert ("json_each VIRTUAL TABLE" in containing) is trigrams, containing
    assert ("rowid=?" in containing) is trigrams, containing
    assert "components_fts VIRTUAL TABLE" in explain(session, search._CANDIDATES, params)


def test_postgresql_reads_the_bytewise_index_for_names_starting_with_the_query(
    session: Session, ours: Installation, shop: Workspace
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans; SQLite's are above")
    # A handful of rows would be read from the table whatever the indexes: the plan shows that
    # the range can be an index scan of the bytewise index, in its order.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    params = {"installation_id": ours.id, "workspace_id": shop.public_id}
    starting = search._starting_statement(in_workspace=True, order="postgresql")
    plan = explain(session, starting, {**params, "needle": "zür", "after": "züs"})
    assert "Index Scan using ix_components_workspace_name_bytes" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.parametrize(
    ("needle", "after"),
    [("a", "b"), ("svc-", "svc."), ("\ud7ff", "\ue000"), ("x\U0010ffff", None), ("é", "ê")],
)
def test_the_range_of_names_starting_with_a_query(needle: str, after: str | None) -> None:
    assert search._after(needle) == after


def test_the_migration_indexes_existing_names_and_goes_back_down(databases) -> None:  # type: ignore[no-untyped-def]
    url = databases.create(migrated=False)
    cfg = migrate.alembic_config(url)
    command.upgrade(cfg, "0016")
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            shop = make_workspace(session, "Before")
            make_component(session, shop, "Existing-Before-0017")
        command.upgrade(cfg, "0017")
        with Session(engine, expire_on_commit=False) as session, session.begin():
            site = make_installation(session, JiraSigner(app_base_url="https://p.example.com"))
            link(session, site, shop)
            assert _search(session, site, "ting-bef", shop) == ["Existing-Before-0017"]
            _assert_index_in_step(session)
        command.downgrade(cfg, "0016")
        with Session(engine, expire_on_commit=False) as session, session.begin():
            # Without the triggers' table, components are written as before the migration.
            make_component(session, shop, "After-Downgrade")
            tables = set(sa.inspect(session.connection()).get_table_names())
            assert not {t for t in tables if t.startswith("components_fts")}
    finally:
        engine.dispose()
        databases.drop(url)
