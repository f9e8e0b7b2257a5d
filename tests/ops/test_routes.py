"""``Routes``: one declaration registers the view, checks the key and declares the operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint
from flask import Flask
from flask import g
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.components import service as components
from provider.ops.components.schemas import Component
from provider.ops.heartbeats.schemas import Heartbeat
from provider.ops.routes import Owned
from provider.ops.routes import Routes
from provider.schema.endpoint import auth_of
from provider.schema.endpoint import operation_of
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.pages import Page
from tests.ops.conftest import Api
from tests.ops.conftest import make_api


class Echo(ResponseModel):
    thing: str
    read_only: bool


class EchoBody(RequestModel):
    thing: str


def _echo_blueprint() -> Blueprint:
    bp = Blueprint("routes_test", __name__, url_prefix="/v1/routes-test")
    route = Routes(bp, "Meta")

    @route.get("/<thing>", "Echo a path", Echo, read_only=True)
    def echo_path(thing: str) -> Echo:
        return Echo(thing=thing, read_only=bool(g.get("db_read_only")))

    @route("POST", "", "Echo a body", {201: Echo}, access=CONFIGURE, body=EchoBody, errors=[409])
    def echo_body(body: EchoBody) -> Echo:
        return Echo(thing=body.thing, read_only=bool(g.get("db_read_only")))

    return bp


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    app = create_app(settings, session_factory=session_factory, configure_logs=False)
    app.register_blueprint(_echo_blueprint())
    return app


@pytest.fixture
def echo_api(client: FlaskClient, session: Session, session_factory: sessionmaker[Session]) -> Api:
    return make_api(client, session, session_factory, "Echo")


def test_the_declared_method_and_path_answer_with_the_declared_body(echo_api: Api) -> None:
    response = echo_api.get("/v1/routes-test/abc")
    assert response.status_code == 200
    assert response.get_json() == {"thing": "abc", "readOnly": True}

    response = echo_api.post("/v1/routes-test", json={"thing": "xyz"})
    assert response.status_code == 201
    assert response.get_json() == {"thing": "xyz", "readOnly": False}

    assert echo_api.delete("/v1/routes-test/abc").status_code == 405


def test_the_key_is_checked_before_the_body_is_read(client: FlaskClient) -> None:
    response = client.post(
        "/v1/routes-test", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "unauthorized"


def test_a_bad_body_is_refused_in_the_error_format(echo_api: Api) -> None:
    response = echo_api.post("/v1/routes-test", json={"thing": 5})
    assert response.status_code == 422
    assert "thing" in response.get_json()["errors"][0]["title"]


def test_the_operation_is_documented_as_declared(app: Flask) -> None:
    view = app.view_functions["routes_test.echo_body"]
    operation = operation_of(view)
    assert operation is not None
    assert (operation.summary, operation.tag, operation.body) == ("Echo a body", "Meta", EchoBody)
    assert dict(operation.responses) == {201: Echo}
    assert operation.errors == frozenset({409})
    auth = auth_of(view)
    assert auth is not None
    assert 401 in auth.errors


def test_owned_rows_are_served_under_operations_named_after_their_noun(app: Flask) -> None:
    for endpoint, responses in (
        ("ops_components.create_component", {201: Component}),
        ("ops_components.get_component", {200: Component}),
        ("ops_components.update_component", {200: Component}),
        ("ops_components.delete_component", {204: "Deleted"}),
        ("ops_heartbeats.list_heartbeats", {200: Page[Heartbeat]}),
    ):
        operation = operation_of(app.view_functions[endpoint])
        assert operation is not None, endpoint
        assert dict(operation.responses) == responses


def test_an_owned_write_needs_what_it_does_and_a_read_of_one_row_takes_nothing() -> None:
    route = Routes(Blueprint("owned_test", __name__), "Meta")
    rows = Owned("component", components.require_component, Component)
    with pytest.raises(ValueError, match="needs what it does"):
        route.owned("PATCH", "/<component_id>", "Update", rows)
    with pytest.raises(ValueError, match="is not served"):
        route.owned("PUT", "/<component_id>", "Replace", rows, components.update_component)


def test_a_read_needs_the_reads_access_and_any_other_method_the_writes_unless_declared() -> None:
    checked: list[str] = []

    def guard(access: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        checked.append(access)
        return lambda view: view

    route = Routes(Blueprint("access_test", __name__), "Meta", guard, writes=CONFIGURE)
    route.get("/a", "Read", Echo)(lambda: None)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        route(method, f"/{method}", "Write", {200: Echo})(lambda: None)
    route("POST", "/b", "Write with the reads' access", {200: Echo}, access=READ)(lambda: None)
    assert checked == [READ, CONFIGURE, CONFIGURE, CONFIGURE, CONFIGURE, READ]
