"""Jira's actions: an installation sees only the workspaces linked to it and their components."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from provider.config import Settings
from tests.installs import make_installation
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace
from tests.signing import JiraSigner
from tests.test_app import assert_error


@pytest.fixture
def world(session: Session, signer: JiraSigner, settings: Settings) -> dict[str, Any]:
    """Our site with two linked workspaces; another site with its own; one workspace unlinked."""
    ours = make_installation(session, signer)
    other_signer = JiraSigner(app_base_url=settings.base_url)
    theirs = make_installation(session, other_signer)
    payments = make_workspace(session, "Payments", avatar_url="https://cdn.example.com/p.png")
    search = make_workspace(session, "Search")
    foreign = make_workspace(session, "Foreign")
    unlinked = make_workspace(session, "Unlinked")
    link(session, ours, payments)
    link(session, ours, search)
    link(session, theirs, foreign)
    components = {
        "checkout": make_component(session, payments, "Checkout"),
        "pre-checkout-api": make_component(session, payments, "pre-checkout-api"),
        "checkout-worker": make_component(session, payments, "checkout-worker"),
        "ledger": make_component(session, payments, "Ledger", url="https://ledger.example.com"),
        "indexer": make_component(session, search, "Indexer"),
        "foreign-checkout": make_component(session, foreign, "Checkout"),
        "unlinked-checkout": make_component(session, unlinked, "Checkout"),
        "percent": make_component(session, search, "100%_done"),
    }
    session.commit()
    return {
        "ours": ours,
        "other_signer": other_signer,
        "payments": payments,
        "search": search,
        "foreign": foreign,
        "unlinked": unlinked,
        "c": components,
    }


# ── fetchWorkspaces ────────────────────────────────────────────────────────────────────────────


def test_fetch_workspaces_returns_only_linked_ones(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], settings: Settings
) -> None:
    ids = [w.public_id for w in (world["payments"], world["foreign"], world["unlinked"])]
    response = signer.post(client, "/workspaces/list", json={"ids": [*ids, "no-such-id"]})
    assert response.status_code == 200
    payments = world["payments"]
    assert response.get_json() == {
        "workspaces": [
            {
                "id": payments.public_id,
                "name": "Payments",
                "url": f"{settings.base_url}/workspaces/{payments.public_id}",
                "avatarUrl": "https://cdn.example.com/p.png",
            }
        ]
    }


def test_fetch_workspaces_for_other_site_sees_its_own(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    other: JiraSigner = world["other_signer"]
    ids = [world["payments"].public_id, world["foreign"].public_id]
    response = other.post(client, "/workspaces/list", json={"ids": ids})
    assert [w["name"] for w in response.get_json()["workspaces"]] == ["Foreign"]


def test_fetch_workspaces_with_no_links_is_empty(
    client: FlaskClient, session: Session, settings: Settings, world: dict[str, Any]
) -> None:
    lonely = JiraSigner(app_base_url=settings.base_url)
    make_installation(session, lonely)
    session.commit()
    ids = [world["payments"].public_id]
    response = lonely.post(client, "/workspaces/list", json={"ids": ids})
    assert response.status_code == 200
    assert response.get_json() == {"workspaces": []}


@pytest.mark.parametrize(
    "body",
    [None, [], "ids", {}, {"ids": None}, {"ids": "abc"}, {"ids": [1, 2]}, {"ids": [{"a": 1}]}],
    ids=repr,
)
def test_fetch_workspaces_malformed_body_is_400(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], body: Any
) -> None:
    response = signer.post(client, "/workspaces/list", json=body)
    assert_error(response, 400)


def test_fetch_workspaces_non_json_body_is_400(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    response = signer.post(
        client, "/workspaces/list", data="{not json", content_type="application/json"
    )
    assert_error(response, 400)


# ── searchContainers ───────────────────────────────────────────────────────────────────────────


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["name"] for c in response.get_json()["containers"]]


def test_search_ranks_exact_then_prefix_then_substring(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    response = signer.get(client, "/containers/search?searchQuery=CHECKOUT")
    assert _names(response) == ["Checkout", "checkout-worker", "pre-checkout-api"]


def test_search_container_shape(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], settings: Settings
) -> None:
    response = signer.get(client, "/containers/search?searchQuery=ledger")
    (container,) = response.get_json()["containers"]
    ledger = world["c"]["ledger"]
    assert container["id"] == ledger.public_id
    assert container["url"] == "https://ledger.example.com"
    assert container["avatarUrl"].startswith(settings.base_url)
    assert container["lastUpdatedDate"].endswith("Z")
    assert set(container) == {"id", "name", "url", "avatarUrl", "lastUpdatedDate"}


def test_search_without_query_lists_all_visible(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    names = _names(signer.get(client, "/containers/search"))
    assert sorted(names) == sorted(
        ["Checkout", "pre-checkout-api", "checkout-worker", "Ledger", "Indexer", "100%_done"]
    )


def test_search_filters_by_workspace(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    url = f"/containers/search?searchQuery=&workspaceId={world['search'].public_id}"
    assert sorted(_names(signer.get(client, url))) == ["100%_done", "Indexer"]


@pytest.mark.parametrize("workspace", ["foreign", "unlinked"])
def test_search_in_a_workspace_not_linked_to_the_caller_is_empty(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], workspace: str
) -> None:
    url = f"/containers/search?searchQuery=checkout&workspaceId={world[workspace].public_id}"
    assert signer.get(client, url).get_json() == {"containers": []}


def test_search_treats_like_wildcards_literally(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    assert _names(signer.get(client, "/containers/search?searchQuery=%25")) == ["100%_done"]
    assert _names(signer.get(client, "/containers/search?searchQuery=_")) == ["100%_done"]


def test_search_with_no_links_is_empty(
    client: FlaskClient, session: Session, settings: Settings, world: dict[str, Any]
) -> None:
    lonely = JiraSigner(app_base_url=settings.base_url)
    make_installation(session, lonely)
    session.commit()
    assert lonely.get(client, "/containers/search?searchQuery=").get_json() == {"containers": []}


def test_search_returns_at_most_200(
    client: FlaskClient, signer: JiraSigner, session: Session, world: dict[str, Any]
) -> None:
    for i in range(205):
        make_component(session, world["payments"], f"bulk-{i:03d}")
    session.commit()
    assert len(_names(signer.get(client, "/containers/search?searchQuery=bulk"))) == 200


@pytest.mark.parametrize(
    "query", ["searchQuery=" + "x" * 300, "searchQuery=a&searchQuery=b", "workspaceId=" + "w" * 300]
)
def test_search_bad_query_is_400(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], query: str
) -> None:
    assert_error(signer.get(client, f"/containers/search?{query}"), 400, "invalid_query")


# ── associate / disassociate ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "path",
    [
        "/components/associate",
        "/components/associate-entity",
        "/components/disassociate",
        "/components/disassociate-entity",
    ],
)
def test_associate_actions_answer_the_component(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], path: str
) -> None:
    checkout = world["c"]["checkout"]
    target = {"ati": "ati:cloud:jira:issue", "ari": "ari:cloud:jira:x:issue/1", "id": "1"}
    body = {
        "entity": {"id": checkout.public_id},
        "associateWith": target,
        "disassociateFrom": target,
    }
    response = signer.post(client, f"{path}?userId=abc", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["id"] == checkout.public_id
    assert payload["name"] == "Checkout"
    assert payload["schemaVersion"] == "1.0"
    assert payload["providerName"] == "Payments"


def test_associate_finds_component_by_its_url(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], settings: Settings
) -> None:
    checkout = world["c"]["checkout"]
    for url, expected in [
        (f"{settings.base_url}/components/{checkout.public_id}", checkout.public_id),
        ("https://ledger.example.com", world["c"]["ledger"].public_id),
    ]:
        body = {"entity": {"url": url}, "associateWith": {"ari": "ari:x"}}
        response = signer.post(client, "/components/associate", json=body)
        assert response.get_json()["id"] == expected


@pytest.mark.parametrize("component", ["foreign-checkout", "unlinked-checkout"])
def test_associate_with_a_component_of_another_site_is_404(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], component: str
) -> None:
    body = {"entity": {"id": world["c"][component].public_id}, "associateWith": {"ari": "a"}}
    assert_error(signer.post(client, "/components/associate", json=body), 404)


def test_associate_unknown_url_is_404(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    body = {"entity": {"url": "https://nowhere.example.com/x"}}
    assert_error(signer.post(client, "/components/associate", json=body), 404)


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"entity": "x"},
        {"entity": {}},
        {"entity": {"id": 5}},
        {"entity": {"id": "x" * 300}},
        {"entity": {"id": "a"}, "associateWith": "x"},
        {"entity": {"id": "a"}, "user": "x"},
    ],
    ids=repr,
)
def test_associate_malformed_body_is_400(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], body: Any
) -> None:
    assert_error(signer.post(client, "/components/associate", json=body), 400)


# ── onEntityAssociated / onEntityDisassociated ─────────────────────────────────────────────────

PROJECT = {
    "ati": "ati:cloud:jira:project",
    "ari": "ari:cloud:jira:c1:project/10000",
    "cloudId": "c1",
    "id": "10000",
}


@pytest.mark.parametrize("method", ["put", "post"])
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/components/on-entity-associated", "associatedWith"),
        ("/components/on-entity-associated", "associateWith"),
        ("/components/on-entity-disassociated", "disassociatedFrom"),
        ("/components/on-entity-disassociated", "disassociateFrom"),
    ],
)
def test_entity_notices_accept_both_spellings(
    client: FlaskClient,
    signer: JiraSigner,
    world: dict[str, Any],
    method: str,
    path: str,
    key: str,
) -> None:
    checkout = world["c"]["checkout"]
    body = {"entity": {"ari": "ari:x", "id": checkout.public_id}, key: PROJECT, "user": {"id": "u"}}
    response = getattr(signer, method)(client, path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_entity_notice_for_another_sites_component_is_404(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any]
) -> None:
    body = {"entity": {"id": world["c"]["foreign-checkout"].public_id}, "associatedWith": PROJECT}
    assert_error(signer.put(client, "/components/on-entity-associated", json=body), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"entity": {"id": "x"}},
        {"entity": {"id": "x"}, "associatedWith": {}},
        {"entity": {"id": "x"}, "associatedWith": []},
        {"entity": {"id": "x"}, "associatedWith": {"ari": 5}},
        {"entity": {"id": "x"}, "associatedWith": PROJECT, "user": {"id": 7}},
        {"associatedWith": PROJECT},
    ],
    ids=repr,
)
def test_entity_notice_malformed_body_is_400(
    client: FlaskClient, signer: JiraSigner, world: dict[str, Any], body: Any
) -> None:
    assert_error(signer.put(client, "/components/on-entity-associated", json=body), 400)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=16), children, max_size=4)
    ),
    max_leaves=10,
)
action_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "ids": json_values,
            "entity": st.one_of(
                json_values, st.fixed_dictionaries({}, optional={"id": json_values})
            ),
            "associatedWith": json_values,
            "associateWith": json_values,
            "disassociatedFrom": json_values,
            "user": json_values,
        },
    ),
)
ACTION_PATHS = [
    ("post", "/workspaces/list"),
    ("post", "/components/associate"),
    ("post", "/components/disassociate-entity"),
    ("put", "/components/on-entity-associated"),
    ("post", "/components/on-entity-disassociated"),
]


@hyp_settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=action_bodies, target=st.sampled_from(ACTION_PATHS))
def test_malformed_action_bodies_never_500(
    client: FlaskClient,
    signer: JiraSigner,
    world: dict[str, Any],
    body: Any,
    target: tuple[str, str],
) -> None:
    method, path = target
    response = getattr(signer, method)(client, path, json=body)
    assert response.status_code in (200, 400, 404), response.get_data(as_text=True)
    if response.status_code != 200:
        assert_error(response, response.status_code)
