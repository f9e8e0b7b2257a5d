"""The incident and component pages Jira links to, and the default avatars the payloads name."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.ops.conftest import Api

HTTPS = "https://provider.example.com"


def _get(client: FlaskClient, url: str) -> Any:
    return client.get(url, base_url=HTTPS)


def _sign_in(client: FlaskClient, api: Api, target: str) -> None:
    form = _get(client, target)
    if not target.startswith("/reviews"):
        # The object pages send a signed-out person to the sign-in form, and back afterwards.
        assert form.status_code == 303
        location = form.headers["Location"]
        assert urlsplit(location).path == "/reviews/sign-in"
        assert parse_qs(urlsplit(location).query)["next"] == [target]
        form = _get(client, location)
    assert form.status_code == 200
    assert "Sign in" in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    next_value = re.search(r'name="next" value="([^"]+)"', form.text)
    assert token
    assert next_value
    assert next_value.group(1) == target
    r = client.post(
        "/reviews/sign-in",
        data={"csrf_token": token.group(1), "workspace_key": api.key, "next": target},
        base_url=HTTPS,
    )
    assert r.status_code == 303
    assert r.headers["Location"].endswith(target)


def _incident(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    component = api.post("/v1/components", json={"name": "Checkout"}).get_json()
    api.create_alert(
        message="Checkout is failing",
        alias="checkout-5xx",
        priority="P2",
        entity="web-1",
        tags=["component:Checkout", "jira:OPS-12"],
    )
    api.create_alert(message="Checkout is failing", alias="checkout-5xx", priority="P2")
    api.create_alert(
        message="Payments down", alias="payments", priority="P1", tags=["component:Checkout"]
    )
    incidents = api.get("/v1/incidents").get_json()["values"]
    assert len(incidents) == 1
    return incidents[0], component


def test_incident_page_shows_the_incident_after_sign_in(client: FlaskClient, api: Api) -> None:
    incident, component = _incident(api)
    target = f"/incidents/{incident['id']}"
    _sign_in(client, api, target)

    page = _get(client, target)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "Checkout is failing" in html
    assert re.search(r'id="status"><span class="lozenge removed">Open<', html)
    # Severity rose to P1 with the second alert, and the page says which alert raised it.
    assert re.search(
        r'id="severity"><span class="lozenge removed">P1</span> '
        r'<span class="subtle">raised by alert “Payments down” \(P1',
        html,
    )
    assert f'href="/components/{component["id"]}">Checkout</a>' in html
    assert re.search(r'<li data-issue="OPS-12">\s*<span>OPS-12</span>', html)
    rows = re.findall(
        r'<tr><td><span class="lozenge">(P\d)</span></td><td>([^<]+).*?'
        r'<td class="num">(\d+)</td><td><time datetime="(\d{4}-[^"]+)"',
        html,
    )
    assert [(p, m.strip(), n) for p, m, n, _ in rows] == [
        ("P2", "Checkout is failing", "2"),
        ("P1", "Payments down", "1"),
    ]
    review_link = re.search(r'id="write-review" href="([^"]+)"', html)
    assert review_link
    query = parse_qs(urlsplit(review_link.group(1).replace("&amp;", "&")).query)
    assert query == {"incident": [incident["id"]], "component": [component["id"]]}
    # The review form opens from that link, prefilled for the incident.
    assert incident["id"] in _get(client, review_link.group(1).replace("&amp;", "&")).text

    api.post(f"/v1/incidents/{incident['id']}/resolve")
    assert re.search(
        r'id="status"><span class="lozenge success">Resolved<', _get(client, target).text
    )


def test_component_page_lists_its_incidents(client: FlaskClient, api: Api) -> None:
    incident, component = _incident(api)
    target = f"/components/{component['id']}"
    _sign_in(client, api, target)
    page = _get(client, target)
    assert page.status_code == 200
    assert "Checkout" in page.text
    assert "1 open" in page.text
    assert f'href="/incidents/{incident["id"]}"' in page.text
    assert 'src="/static/component.svg"' in page.text


def test_pages_need_a_sign_in_and_hide_other_workspaces(
    client: FlaskClient, api: Api, other_api: Api
) -> None:
    theirs, their_component = _incident(other_api)
    mine = api.post("/v1/components", json={"name": "Mine"}).get_json()
    for path in (f"/incidents/{theirs['id']}", f"/components/{their_component['id']}"):
        r = _get(client, path)
        assert r.status_code == 303  # nothing is shown, not even whether it exists
        assert "Checkout" not in r.text
    _sign_in(client, api, f"/components/{mine['id']}")
    for path in (f"/incidents/{theirs['id']}", f"/components/{their_component['id']}"):
        r = _get(client, path)
        assert r.status_code == 404
        assert r.get_json()["errors"][0]["code"] in {"incident_not_found", "component_not_found"}
        assert "Checkout" not in r.text


@pytest.mark.parametrize(
    "bad_id",
    ["nope", "x" * 5000, "%00", "%FF%FE", "..%2F..%2Fetc", "1%20OR%201=1", "%F0%9F%92%A5", "'"],
)
def test_bad_ids_are_404_never_500(client: FlaskClient, api: Api, bad_id: str) -> None:
    for kind in ("incidents", "components"):
        assert _get(client, f"/{kind}/{bad_id}").status_code in (303, 404)
    _sign_in(client, api, "/reviews/new")
    for kind in ("incidents", "components"):
        r = _get(client, f"/{kind}/{bad_id}")
        assert r.status_code == 404, (kind, bad_id, r.status_code)
        assert r.get_json()["errors"]


def test_a_forged_or_foreign_session_cookie_is_no_sign_in(
    client: FlaskClient, api: Api, other_api: Api
) -> None:
    incident, _ = _incident(api)
    client.set_cookie("provider_reviews", "forged.value.here", domain="provider.example.com")
    assert _get(client, f"/incidents/{incident['id']}").status_code == 303
    # Signed in to the other workspace: this workspace's incident is unknown there.
    _sign_in(client, other_api, "/reviews/new")
    assert _get(client, f"/incidents/{incident['id']}").status_code == 404


@pytest.mark.parametrize(
    "next_url", ["https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_sends_a_person_elsewhere(
    client: FlaskClient, api: Api, next_url: str
) -> None:
    form = _get(client, "/reviews/sign-in?" + f"next={next_url}")
    assert form.status_code == 200
    assert 'name="next" value="/reviews/new"' in form.text


def test_default_avatars_are_served(client: FlaskClient) -> None:
    for name in ("component.svg", "workspace.svg"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200
        assert r.mimetype == "image/svg+xml"
        assert r.data.startswith(b"<svg")
    for name in ("nope.svg", "..%2Fpages.py", "%00"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 404
        assert r.get_json()["errors"]


def test_alert_text_is_escaped_and_the_session_covers_every_page(
    client: FlaskClient, api: Api
) -> None:
    api.create_alert(
        message="<script>alert(1)</script>",
        alias="xss",
        priority="P1",
        tags=["jira:OPS-1", "component:<b>x</b>"],
    )
    incident = api.get("/v1/incidents").get_json()["values"][0]
    target = f"/incidents/{incident['id']}"
    _sign_in(client, api, target)
    page = _get(client, target)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # Scripts only from the app's own files: never inline, never another origin.
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline';" not in page.headers["Content-Security-Policy"].split("script-src")[1]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    cookie = page.headers["Set-Cookie"]
    assert "Path=/;" in cookie
    assert "HttpOnly" in cookie


def test_nul_characters_never_reach_the_database(client: FlaskClient, api: Api) -> None:
    incident, _ = _incident(api)
    _sign_in(client, api, f"/incidents/{incident['id']}")
    for path in ("/incidents/a%00b", "/components/%00", "/reviews/%00"):
        r = _get(client, path)
        assert r.status_code == 404, path
        assert r.get_json()["errors"]
    r = _get(client, "/reviews/new?incident=%00")
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["code"] == "invalid_characters"
    form = _get(client, f"/reviews/new?incident={incident['id']}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/reviews",
        data={"csrf_token": token.group(1), "summary": "a\x00b", "incident": incident["id"]},
        base_url=HTTPS,
    )
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["code"] == "invalid_characters"
    assert api.get("/v1/reviews").get_json()["count"] == 0
