"""Incoming JWTs on Jira's action calls: what Jira signs passes; every forgery is a 401, never a 500."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask import g
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from provider.connect.auth import INSTALLATIONS
from provider.connect.auth import jira_jwt_required
from provider.connect.auth import request_target
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.logging import client_key_var
from tests.conftest import TEST_SECRET_KEY
from tests.installs import make_installation
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace
from tests.signing import JiraSigner
from tests.signing import shared_rsa_key
from tests.test_app import assert_error

SEARCH = "/containers/search?searchQuery=check&workspaceId="
LIST = "/workspaces/list"


@pytest.fixture
def site(session: Session, signer: JiraSigner) -> dict[str, Any]:
    installation = make_installation(session, signer)
    workspace = make_workspace(session)
    link(session, installation, workspace)
    make_component(session, workspace, "checkout")
    session.commit()
    return {"installation": installation, "workspace": workspace}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: Any, key: bytes, digest: Any) -> str:
    """A JWT built by hand, for the forgeries PyJWT refuses to produce."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def search(client: FlaskClient, site: dict[str, Any]) -> str:
    return SEARCH + site["workspace"].public_id


# ── what Jira sends is accepted ────────────────────────────────────────────────────────────────


def test_jira_signed_search_is_200(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    response = signer.get(client, search(client, site))
    assert response.status_code == 200, response.get_json()
    assert [c["name"] for c in response.get_json()["containers"]] == ["checkout"]


def test_jira_signed_fetch_workspaces_is_200(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    response = signer.post(client, LIST, json={"ids": [site["workspace"].public_id]})
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["workspaces"]) == 1


def test_token_in_query_is_accepted(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    url = search(client, site)
    token = signer.request_token("GET", url)
    assert client.get(f"{url}&jwt={token}").status_code == 200


def test_success_sets_installation_claims_and_log_context(
    app: Flask, signer: JiraSigner, site: dict[str, Any]
) -> None:
    seen: dict[str, Any] = {}

    @app.get("/probe-context")
    @jira_jwt_required(qsh="request")
    def probe() -> dict[str, str]:
        seen["installation"] = g.installation
        seen["iss"] = g.jwt_claims["iss"]
        seen["log"] = client_key_var.get()
        return {}

    assert signer.get(app.test_client(), "/probe-context").status_code == 200
    assert isinstance(seen["installation"], Installation)
    assert seen["installation"].client_key == signer.client_key
    assert seen["iss"] == seen["log"] == signer.client_key


def test_expired_within_leeway_is_accepted(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    url = search(client, site)
    token = signer.request_token("GET", url, exp=int(time.time()) - 10)
    assert client.get(url, headers=signer.auth(token)).status_code == 200


# ── every forgery is a 401 in the error format ─────────────────────────────────────────────────


def _forgeries(signer: JiraSigner, method: str, url: str) -> dict[str, dict[str, str]]:
    now = int(time.time())
    qsh = signer.qsh(method, url)
    claims = {"iss": signer.client_key, "iat": now, "exp": now + 180, "qsh": qsh}
    public_pem = shared_rsa_key().public_pem
    auth = signer.auth
    return {
        "bad_signature": auth(signer.request_token(method, url, secret="x" * 43)),
        "alg_none": auth(
            _b64(b'{"alg":"none","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode()) + "."
        ),
        "rs256": auth(signer.request_token(method, url, algorithm="RS256")),
        "hs512": auth(
            hand_signed(
                {"alg": "HS512", "typ": "JWT"},
                claims,
                signer.shared_secret.encode(),
                hashlib.sha512,
            )
        ),
        "hs256_with_public_key": auth(
            hand_signed({"alg": "HS256", "typ": "JWT"}, claims, public_pem, hashlib.sha256)
        ),
        "expired_beyond_leeway": auth(signer.request_token(method, url, exp=now - 120)),
        "issued_in_the_future": auth(signer.request_token(method, url, now=now + 600)),
        "not_before_in_the_future": auth(
            signer.request_token(method, url, extra={"nbf": now + 600})
        ),
        "qsh_of_another_url": auth(
            signer.request_token(method, url, qsh=signer.qsh(method, url + "&x=1"))
        ),
        "qsh_of_another_method": auth(
            signer.request_token(method, url, qsh=signer.qsh("DELETE", url))
        ),
        "context_qsh": auth(signer.context_token()),
        "no_qsh": auth(signer.request_token(method, url, extra={"qsh": None})),
        "no_exp": auth(signer.request_token(method, url, exp=None)),
        "ten_year_lifetime": auth(signer.request_token(method, url, lifetime=10 * 365 * 86400)),
        "two_hour_lifetime": auth(signer.request_token(method, url, lifetime=7200)),
        "unknown_iss": auth(signer.request_token(method, url, iss="jira:unknown")),
        "no_token": {},
        "bearer_scheme": {"Authorization": "Bearer " + signer.request_token(method, url)},
    }


# Each forgery and the reason it must be refused for.
FORGERIES = {
    "bad_signature": "invalid_signature",
    "alg_none": "invalid_algorithm",
    "rs256": "invalid_algorithm",
    "hs512": "invalid_algorithm",
    "hs256_with_public_key": "invalid_signature",
    "expired_beyond_leeway": "token_expired",
    "issued_in_the_future": "token_not_yet_valid",
    "not_before_in_the_future": "token_not_yet_valid",
    "qsh_of_another_url": "invalid_qsh",
    "qsh_of_another_method": "invalid_qsh",
    "context_qsh": "invalid_qsh",
    "no_qsh": "invalid_token",
    "no_exp": "invalid_token",
    "ten_year_lifetime": "lifetime_too_long",
    "two_hour_lifetime": "lifetime_too_long",
    "unknown_iss": "unknown_issuer",
    "no_token": "missing_token",
    # Jira's actions may also be Forge invocations: a Bearer token is verified as one, and this
    # app (no FORGE_APP_ID) takes none.
    "bearer_scheme": "forge_not_configured",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("endpoint", ["search", "list"])
def test_forged_tokens_are_401(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any], forgery: str, endpoint: str
) -> None:
    if endpoint == "search":
        url = search(client, site)
        headers = _forgeries(signer, "GET", url)[forgery]
        response = client.get(url, headers=headers)
    else:
        headers = _forgeries(signer, "POST", LIST)[forgery]
        response = client.post(LIST, json={"ids": [site["workspace"].public_id]}, headers=headers)
    assert_error(response, 401, FORGERIES[forgery])
    assert set(_forgeries(signer, "GET", "/")) == set(FORGERIES)
    assert response.headers["WWW-Authenticate"].startswith("JWT")


@pytest.mark.parametrize(
    ("installed", "enabled"), [(False, True), (True, False), (False, False)], ids=str
)
def test_uninstalled_or_disabled_installation_is_401(
    client: FlaskClient,
    signer: JiraSigner,
    session: Session,
    site: dict[str, Any],
    installed: bool,
    enabled: bool,
) -> None:
    installation = site["installation"]
    installation.installed = installed
    installation.enabled = enabled
    session.commit()
    assert_error(signer.get(client, search(client, site)), 401, "unknown_issuer")


def test_header_and_query_token_together_is_401(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    url = search(client, site)
    token = signer.request_token("GET", url)
    response = client.get(f"{url}&jwt={token}", headers=signer.auth(token))
    assert_error(response, 401, "two_tokens")
    response = client.get(f"{url}&jwt={token}&jwt={token}")
    assert_error(response, 401, "two_tokens")


def test_token_of_another_site_secret_is_401(
    client: FlaskClient, settings: Any, session: Session, site: dict[str, Any]
) -> None:
    """A second installed site cannot sign as the first: each secret verifies only its own iss."""
    other = JiraSigner(app_base_url=settings.base_url)
    make_installation(session, other)
    session.commit()
    url = search(client, site)
    victim = site["installation"].client_key
    token = other.request_token("GET", url, iss=victim)
    assert_error(client.get(url, headers=other.auth(token)), 401, "invalid_signature")


# ── context tokens: only on routes declared for them, and nothing else there ───────────────────


@pytest.fixture
def context_app(app: Flask) -> Flask:
    @app.get("/admin/api/probe")
    @jira_jwt_required(qsh="context")
    def admin_probe() -> dict[str, str]:
        return {"clientKey": g.installation.client_key}

    return app


def test_context_route_accepts_context_token(
    context_app: Flask, signer: JiraSigner, site: dict[str, Any]
) -> None:
    client = context_app.test_client()
    response = client.get("/admin/api/probe", headers=signer.auth(signer.context_token()))
    assert response.status_code == 200
    assert response.get_json() == {"clientKey": signer.client_key}


def test_context_route_refuses_request_bound_token(
    context_app: Flask, signer: JiraSigner, site: dict[str, Any]
) -> None:
    client = context_app.test_client()
    token = signer.request_token("GET", "/admin/api/probe")
    assert_error(client.get("/admin/api/probe", headers=signer.auth(token)), 401, "invalid_qsh")


def test_decorator_refuses_unknown_mode() -> None:
    with pytest.raises(ValueError, match="qsh"):
        jira_jwt_required(qsh="any")  # type: ignore[arg-type]


# ── the request target the qsh is computed over ────────────────────────────────────────────────


def test_request_target_uses_raw_uri() -> None:
    target = request_target(
        {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/app/a%2Fb?x=%2B&x=+",
            "PATH_INFO": "/a/b",
            "QUERY_STRING": "x=%2B&x=+",
        },
        base_path="/app",
    )
    assert (target.raw_path, target.raw_query, target.base_path) == (
        "/app/a%2Fb",
        "x=%2B&x=+",
        "/app",
    )


def test_request_target_without_raw_uri_re_encodes_path_info() -> None:
    target = request_target(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/a b/\xc3\xa9&c", "QUERY_STRING": "q=1"}
    )
    assert target.raw_path == "/a%20b/%C3%A9&c"
    assert target.raw_query == "q=1"


def test_request_target_takes_query_from_environ_when_uri_has_none() -> None:
    target = request_target(
        {"REQUEST_METHOD": "GET", "REQUEST_URI": "/p", "QUERY_STRING": "a=1&a=2"}
    )
    assert (target.raw_path, target.raw_query) == ("/p", "a=1&a=2")


# ── fuzz: no malformed token or body produces a 500 ───────────────────────────────────────────

TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=126)


def _garble(token: str, data: st.DataObject) -> str:
    kind = data.draw(st.sampled_from(["truncate", "flip", "segments", "claims", "huge", "random"]))
    if kind == "truncate":
        return token[: data.draw(st.integers(0, len(token)))]
    if kind == "flip":
        i = data.draw(st.integers(0, len(token) - 1))
        return token[:i] + data.draw(TOKEN_CHARS) + token[i + 1 :]
    if kind == "segments":
        parts = token.split(".")
        n = data.draw(st.integers(0, 5))
        return ".".join(
            data.draw(st.sampled_from([*parts, "", "e30", "bnVsbA", "!!"])) for _ in range(n)
        )
    if kind == "claims":
        payload = data.draw(
            st.sampled_from([b"null", b"[]", b"123", b'"s"', b"{", b"\xff\xfe", b'{"iss": 1}'])
        )
        header = data.draw(st.sampled_from([b'{"alg":"HS256"}', b"[]", b"{", b'{"alg":null}']))
        return f"{_b64(header)}.{_b64(payload)}.{_b64(b'sig')}"
    if kind == "huge":
        return token * data.draw(st.integers(10, 200))
    return data.draw(st.text(TOKEN_CHARS, max_size=300))


@hyp_settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_malformed_tokens_never_500(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any], data: st.DataObject
) -> None:
    url = search(client, site)
    token = _garble(signer.request_token("GET", url), data)
    where = data.draw(st.sampled_from(["header", "query"]))
    if where == "header":
        response = client.get(url, headers={"Authorization": f"JWT {token}"})
    else:
        response = client.get(f"{url}&jwt={token}")
    assert response.status_code in (200, 401), response.get_data(as_text=True)
    if response.status_code == 401:
        assert_error(response, 401)


def test_issuer_with_a_nul_character_is_401_not_a_database_error(
    client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    url = search(client, site)
    token = signer.request_token("GET", url, iss=signer.client_key + "\x00")
    response = client.get(url, headers=signer.auth(token))
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "unknown_issuer"


# ── remembered installations (read-only calls) ─────────────────────────────────────────────────


def test_uninstall_in_this_process_is_seen_at_once(
    connect_client: FlaskClient, signer: JiraSigner, site: dict[str, Any]
) -> None:
    client = connect_client
    assert signer.get(client, search(client, site)).status_code == 200  # now remembered
    assert signer.lifecycle(client, "uninstalled").status_code == 204
    assert_error(signer.get(client, search(client, site)), 401, "unknown_issuer")


def test_a_secret_replaced_elsewhere_is_accepted_at_once(
    client: FlaskClient, signer: JiraSigner, session: Session, site: dict[str, Any]
) -> None:
    assert signer.get(client, search(client, site)).status_code == 200  # old secret remembered
    reinstalled = dataclasses.replace(signer, shared_secret="a-new-secret-" + "n" * 32)
    # written as another process would: no ORM object of this process changes
    session.execute(
        text("UPDATE installations SET shared_secret_encrypted = :s WHERE id = :id"),
        {
            "s": SecretBox(TEST_SECRET_KEY).encrypt(reinstalled.shared_secret),
            "id": site["installation"].id,
        },
    )
    session.commit()
    assert reinstalled.get(client, search(client, site)).status_code == 200
    assert_error(signer.get(client, search(client, site)), 401, "invalid_signature")


def test_an_uninstall_elsewhere_is_seen_within_the_ttl(
    client: FlaskClient, signer: JiraSigner, session: Session, site: dict[str, Any]
) -> None:
    recent = INSTALLATIONS.of(client.application)
    recent.ttl = 0.3
    assert signer.get(client, search(client, site)).status_code == 200
    session.execute(
        text("UPDATE installations SET installed = :f WHERE id = :id"),
        {"f": False, "id": site["installation"].id},
    )
    session.commit()
    # the documented window: another process's uninstall is not seen before the entry expires
    assert signer.get(client, search(client, site)).status_code == 200
    time.sleep(0.4)
    assert_error(signer.get(client, search(client, site)), 401, "unknown_issuer")


def test_write_routes_never_use_remembered_installations(
    client: FlaskClient, signer: JiraSigner, session: Session, site: dict[str, Any]
) -> None:
    assert signer.get(client, search(client, site)).status_code == 200
    session.execute(
        text("UPDATE installations SET installed = :f WHERE id = :id"),
        {"f": False, "id": site["installation"].id},
    )
    session.commit()
    body = {"entity": {"id": "nope"}}
    answer = signer.post(client, "/components/associate", json=body)
    assert_error(answer, 401, "unknown_issuer")
