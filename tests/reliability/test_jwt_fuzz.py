"""Fuzz the JWT check of Jira's calls through gunicorn, byte for byte over loopback.

Valid requests (searchContainers, fetchWorkspaces, associate) are mutated one aspect at a time:
the claims (re-signed with the right secret, so only the claim is wrong), the JOSE header, the
token's encoding, where and how the token travels, the query string and the path after signing,
the method and the body. Each mutation says which answers it may get; whatever the mutation,
the answer is never a 5xx and every error carries the one error body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import pytest

from bench.stack import SeededWorkspace
from bench.stack import Stack
from provider.connect.jwt import qsh_for_url
from tests.reliability.conftest import env_int
from tests.reliability.conftest import summary

OK = frozenset({200})
DENIED = frozenset({401})
OK_OR_DENIED = frozenset({200, 401})
BAD_BODY = frozenset({400})
ROUTING = frozenset({401, 404, 405, 308})
# gunicorn's HTTP parser refuses some requests before the app sees them (an invalid request line,
# control characters in a header, a request line or header over its limits), with a plain 4xx.
PARSER = frozenset({400, 414, 431})


@dataclass
class Case:
    label: str
    method: str
    target: str
    allowed: frozenset[int]
    headers: dict[str, str | bytes] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Site:
    stack: Stack
    workspace: SeededWorkspace
    component_id: str

    def sign(
        self,
        method: str,
        target: str,
        *,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        headers: dict[str, Any] | None = None,
        algorithm: str = "HS256",
        key: Any = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.stack.client_key,
            "iat": now,
            "exp": now + 180,
            "qsh": qsh_for_url(method, target, self.stack.base_url),
            "sub": "557058:fuzz",
        }
        payload.update(claims or {})
        for name in drop:
            payload.pop(name, None)
        secret = self.stack.shared_secret if key is None else key
        return hs_token(payload, secret, algorithm=algorithm, headers=headers)


def hs_token(
    payload: dict[str, Any], secret: str, *, algorithm: str = "HS256", headers: Any = None
) -> str:
    """Sign any payload, however wrong (PyJWT refuses to encode some of the broken claims)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    header = {"alg": algorithm, "typ": "JWT", **(headers or {})}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + _b64(signature)


@pytest.fixture(scope="module")
def site(live_stack: Stack) -> Site:
    workspace = live_stack.seed_workspace("Fuzzed", components=30)
    with live_stack.db.sessions() as session:
        from sqlalchemy import select

        from provider.ops.components.models import Component

        component_id = session.scalars(
            select(Component.public_id).where(Component.workspace_id == workspace.id).limit(1)
        ).one()
    return Site(live_stack, workspace, component_id)


# ── valid requests ─────────────────────────────────────────────────────────────────────────────


def _search_target(site: Site, query: str = "svc-0001") -> str:
    params = {"searchQuery": query, "workspaceId": site.workspace.public_id}
    return "/containers/search?" + urlencode(params, quote_via=quote)


def _bases(site: Site) -> list[tuple[str, str, bytes | None]]:
    return [
        ("GET", _search_target(site), None),
        ("GET", _search_target(site, "Ünïcode ~*'()!"), None),
        ("POST", "/workspaces/list", json.dumps({"ids": [site.workspace.public_id]}).encode()),
        (
            "POST",
            "/components/associate",
            json.dumps({"entity": {"id": site.component_id}}).encode(),
        ),
    ]


def _case(
    site: Site,
    label: str,
    method: str,
    target: str,
    body: bytes | None,
    allowed: frozenset[int],
    *,
    token: str | None = None,
    scheme: str = "JWT ",
    headers: dict[str, str | bytes] | None = None,
) -> Case:
    all_headers: dict[str, str | bytes] = {}
    if token is None:
        token = site.sign(method, target)
    if token:
        all_headers["Authorization"] = scheme + token
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return Case(label, method, target, allowed, all_headers, body)


# ── mutations ──────────────────────────────────────────────────────────────────────────────────


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claim_cases(site: Site, method: str, target: str, body: bytes | None) -> Iterator[Case]:
    now = int(time.time())
    denied: dict[str, dict[str, Any]] = {
        "expired": {"exp": now - 120},
        "issued in the future": {"iat": now + 3600},
        "not before the future": {"nbf": now + 3600},
        "exp as string": {"exp": "tomorrow"},
        "iat as list": {"iat": [now]},
        "exp as null": {"exp": None},
        "iss unknown": {"iss": "jira:unknown-site"},
        "iss empty": {"iss": ""},
        "iss as number": {"iss": 12345},
        "iss as object": {"iss": {"clientKey": site.stack.client_key}},
        "iss very long": {"iss": "x" * 5000},
        "iss with NUL": {"iss": site.stack.client_key + "\x00"},
        "qsh of another request": {"qsh": qsh_for_url("GET", "/workspaces/list", "")},
        "qsh empty": {"qsh": ""},
        "qsh context": {"qsh": "context-qsh"},
        "qsh as number": {"qsh": 0},
        "qsh upper-cased": {"qsh": qsh_for_url(method, target, site.stack.base_url).upper()},
        "qsh as list": {"qsh": [qsh_for_url(method, target, site.stack.base_url)]},
    }
    # A token that claims to live for ages is one someone minted to keep (lifetime_too_long).
    denied["exp a huge float"] = {"exp": 1e308}
    denied["exp in ten years"] = {"exp": now + 10 * 365 * 86400}
    for label, claims in denied.items():
        token = site.sign(method, target, claims=claims)
        yield _case(site, f"claim: {label}", method, target, body, DENIED, token=token)
    for name in ("iss", "iat", "exp", "qsh"):
        token = site.sign(method, target, drop=(name,))
        yield _case(site, f"claim: without {name}", method, target, body, DENIED, token=token)
    benign = {
        "unknown claim": {"context": {"user": {"accountId": "x"}}},
        "aud set": {"aud": "https://elsewhere.example"},
        "exp in an hour": {"exp": now + 3600},
    }
    for label, claims in benign.items():
        token = site.sign(method, target, claims=claims)
        yield _case(site, f"claim: {label}", method, target, body, OK, token=token)


def header_cases(site: Site, method: str, target: str, body: bytes | None) -> Iterator[Case]:
    secret = site.stack.shared_secret
    for alg in ("HS384", "HS512"):
        token = site.sign(method, target, algorithm=alg)
        yield _case(site, f"header: alg {alg}", method, target, body, DENIED, token=token)
    signing_input = (
        _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        + "."
        + _b64(
            json.dumps({"iss": site.stack.client_key, "iat": 1, "exp": 2**40, "qsh": "x"}).encode()
        )
    )
    yield _case(site, "header: alg none", method, target, body, DENIED, token=signing_input + ".")
    for alg in ("RS256", "ES256", "", "hs256", None):
        header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        good = site.sign(method, target).split(".")
        yield _case(
            site,
            f"header: alg {alg!r} with an HS256 signature",
            method,
            target,
            body,
            DENIED,
            token=".".join([header, good[1], good[2]]),
        )
    for label, header in {
        "header: not JSON": b"{alg:HS256",
        "header: a JSON array": b'["HS256"]',
        "header: a JSON string": b'"HS256"',
        "header: deep nesting": b'{"alg":"HS256","x":' + b"[" * 1500 + b"]" * 1500 + b"}",
    }.items():
        good = site.sign(method, target).split(".")
        yield _case(
            site, label, method, target, body, DENIED, token=".".join([_b64(header), *good[1:]])
        )
    for label, extra in {
        "header: kid": {"kid": "../../etc/passwd"},
        "header: typ odd": {"typ": "odd"},
        "header: jku": {"jku": "http://127.0.0.1:1/keys"},
    }.items():
        token = site.sign(method, target, headers=extra)
        yield _case(site, label, method, target, body, OK, token=token)
    token = site.sign(method, target, headers={"crit": ["exp"]})
    yield _case(site, "header: crit", method, target, body, OK_OR_DENIED, token=token)
    token = site.sign(method, target, key=secret + "x")
    yield _case(site, "signature: wrong secret", method, target, body, DENIED, token=token)
    token = site.sign(method, target, key="")
    yield _case(site, "signature: empty secret", method, target, body, DENIED, token=token)


def encoding_cases(
    site: Site, method: str, target: str, body: bytes | None, rng: random.Random, n: int
) -> Iterator[Case]:
    good = site.sign(method, target)
    head, payload, sig = good.split(".")
    huge = _b64(b'{"exp":1' + b"0" * 400 + b"}")
    fixed: dict[str, tuple[str, frozenset[int]]] = {
        "two segments": (f"{head}.{payload}", DENIED),
        "four segments": (f"{good}.{sig}", DENIED),
        "empty segments": ("..", DENIED),
        "swapped segments": (f"{payload}.{head}.{sig}", DENIED),
        "signature removed": (f"{head}.{payload}.", DENIED),
        "standard base64": (good.replace("-", "+").replace("_", "/"), OK_OR_DENIED),
        "padding added": (f"{head}==.{payload}.{sig}", OK_OR_DENIED),
        "percent-encoded": (quote(good, safe=""), OK_OR_DENIED),
        "whitespace inside": (f"{head}. {payload}.{sig}", DENIED),
        "non-ASCII": (f"{head}é.{payload}.{sig}", DENIED),
        "control characters": (f"{head}\x01.{payload}.{sig}", DENIED | PARSER),
        "too long": (good + "A" * 9000, DENIED | PARSER),
        "payload not JSON": (f"{head}.{_b64(b'not json')}.{sig}", DENIED),
        "payload a JSON list": (f"{head}.{_b64(b'[1,2]')}.{sig}", DENIED),
        "payload huge number": (f"{head}.{huge}.{sig}", DENIED),
    }
    for label, (token, allowed) in fixed.items():
        yield _case(site, f"encoding: {label}", method, target, body, allowed, token=token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/%~ \x7f"
    for i in range(n):
        chars = list(good)
        kind = rng.choice(("flip", "insert", "delete", "truncate"))
        pos = rng.randrange(len(chars))
        if kind == "flip":
            chars[pos] = rng.choice(alphabet)
        elif kind == "insert":
            chars.insert(pos, rng.choice(alphabet))
        elif kind == "delete":
            del chars[pos]
        else:
            chars = chars[:pos]
        token = "".join(chars)
        # a change in the last base64 character of a segment can leave its bytes unchanged
        allowed = OK if token == good else OK_OR_DENIED | PARSER
        yield _case(
            site, f"encoding: random {kind} #{i}", method, target, body, allowed, token=token
        )


def transport_cases(site: Site, method: str, target: str, body: bytes | None) -> Iterator[Case]:
    token = site.sign(method, target)
    yield _case(site, "transport: no token", method, target, body, DENIED, token="")
    yield _case(
        site, "transport: Bearer", method, target, body, DENIED, token=token, scheme="Bearer "
    )
    yield _case(
        site, "transport: Basic", method, target, body, DENIED, token=token, scheme="Basic "
    )
    yield _case(
        site, "transport: scheme only", method, target, body, DENIED, token=" ", scheme="JWT"
    )
    yield _case(
        site, "transport: lower-case scheme", method, target, body, OK, token=token, scheme="jwt "
    )
    yield _case(
        site, "transport: two spaces", method, target, body, OK, token=token, scheme="JWT  "
    )
    sep = "&" if "?" in target else "?"
    yield _case(
        site, "transport: in the query", method, f"{target}{sep}jwt={token}", body, OK, token=""
    )
    yield _case(
        site,
        "transport: header and query",
        method,
        f"{target}{sep}jwt={token}",
        body,
        DENIED,
        token=token,
    )
    yield _case(
        site,
        "transport: two in the query",
        method,
        f"{target}{sep}jwt={token}&jwt={token}",
        body,
        DENIED,
        token="",
    )
    yield _case(
        site, "transport: empty query jwt", method, f"{target}{sep}jwt=", body, DENIED, token=""
    )
    yield _case(
        site,
        "transport: header latin-1 bytes",
        method,
        target,
        body,
        DENIED,
        token="",
        headers={"Authorization": b"JWT \xe9\xff" + token.encode()},
    )


def query_cases(site: Site, body: bytes | None) -> Iterator[Case]:
    ws = site.workspace.public_id
    base = _search_target(site)
    token = site.sign("GET", base)
    same = {
        "reordered": f"/containers/search?workspaceId={ws}&searchQuery=svc-0001",
        "unreserved escaped": f"/containers/search?searchQuery=svc%2D0001&workspaceId={ws}",
        "empty pairs": f"/containers/search?&searchQuery=svc-0001&&workspaceId={ws}&",
    }
    for label, target in same.items():
        yield _case(site, f"query: {label}", "GET", target, None, OK, token=token)
    changed = {
        "value changed": f"/containers/search?searchQuery=svc-0002&workspaceId={ws}",
        "parameter added": f"{base}&limit=5",
        "parameter removed": f"/containers/search?workspaceId={ws}",
        "key repeated": f"{base}&searchQuery=svc-0001",
        "fragment-like": f"{base}%23x",
        "invalid escape": f"{base}&x=%zz",
        "NUL": f"{base}&x=%00",
        "semicolon": f"{base};x=1",
    }
    for label, target in changed.items():
        yield _case(site, f"query: {label}", "GET", target, None, DENIED, token=token)
    for label, target in {
        "raw UTF-8": f"{base}&x=é",
        "huge": f"{base}&x={'a' * 6000}",
    }.items():
        yield _case(site, f"query: {label}", "GET", target, None, DENIED | PARSER, token=token)
    # signed correctly, but invalid for the action: Jira's actions answer 400
    for label, target in {
        "searchQuery twice": f"{base}&searchQuery=x",
        "searchQuery too long": _search_target(site, "q" * 300),
    }.items():
        yield _case(site, f"query: {label} (signed)", "GET", target, None, BAD_BODY)
    for label, target in {
        "invalid escape": f"{base}&x=%zz",
        "NUL": f"{base}&x=%00",
        "unknown workspace": _search_target(site).replace(ws, "nope"),
    }.items():
        yield _case(site, f"query: {label} (signed)", "GET", target, None, OK)


def path_cases(site: Site, method: str, target: str, body: bytes | None) -> Iterator[Case]:
    token = site.sign(method, target)
    path, sep, query = target.partition("?")
    q = sep + query
    variants = {
        "trailing slash": f"{path}/{q}",
        "double slash": f"/{path}{q}",
        "upper case": f"{path.upper()}{q}",
        "escaped letter": f"/%{ord(path[1]):02X}{path[2:]}{q}",
        "dot segment": f"/x/..{path}{q}",
        "encoded slash": f"{path.replace('/', '%2F', 2)}{q}",
        "unicode": f"{path}é{q}",
        "absolute form": f"http://127.0.0.1:{site.stack.port}{target}",
    }
    for label, mutated in variants.items():
        allowed = OK if label == "absolute form" else ROUTING | PARSER
        yield _case(site, f"path: {label}", method, mutated, body, allowed, token=token)
    other = "PUT" if method == "POST" else "DELETE"
    yield _case(site, f"method: {other}", other, target, body, ROUTING, token=token)
    token = site.sign(other, target)
    yield _case(site, f"method: {other} signed", other, target, body, ROUTING, token=token)


def body_cases(site: Site) -> Iterator[Case]:
    bodies: dict[str, bytes] = {
        "not JSON": b"{ids: [",
        "a JSON list": b"[]",
        "ids a string": b'{"ids": "x"}',
        "ids of numbers": b'{"ids": [1, 2]}',
        "ids missing": b"{}",
        "too many ids": json.dumps({"ids": [str(i) for i in range(1001)]}).encode(),
        "id too long": json.dumps({"ids": ["x" * 300]}).encode(),
        "invalid UTF-8": b'{"ids": ["\xff"]}',
        "deep nesting": b'{"ids": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    }
    for label, body in bodies.items():
        yield _case(site, f"body: {label}", "POST", "/workspaces/list", body, BAD_BODY)
    for label, body in {
        "entity missing": b"{}",
        "entity a string": b'{"entity": "x"}',
        "entity without id": b'{"entity": {}}',
    }.items():
        yield _case(
            site, f"body: associate {label}", "POST", "/components/associate", body, BAD_BODY
        )
    big = b'{"ids": ["' + b"a" * 1_100_000 + b'"]}'
    yield _case(
        site, "body: over the size limit", "POST", "/workspaces/list", big, frozenset({400, 413})
    )
    yield _case(
        site,
        "body: form-encoded",
        "POST",
        "/workspaces/list",
        b"ids=1",
        BAD_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def all_cases(site: Site, random_per_base: int, seed: int = 20240611) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for method, target, body in _bases(site):
        cases.append(
            _case(site, f"valid {method} {target.split('?')[0]}", method, target, body, OK)
        )
        cases += claim_cases(site, method, target, body)
        cases += header_cases(site, method, target, body)
        cases += encoding_cases(site, method, target, body, rng, random_per_base)
        cases += transport_cases(site, method, target, body)
        cases += path_cases(site, method, target, body)
    cases += query_cases(site, None)
    cases += body_cases(site)
    return cases


# ── the test ───────────────────────────────────────────────────────────────────────────────────


def send(port: int, case: Case) -> tuple[int, bytes, bool]:
    """Send the request exactly as built (raw UTF-8 in the target included) and read the answer."""
    lines = [f"{case.method} {case.target} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode()]
    for name, value in case.headers.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    if case.body is not None:
        lines.append(f"Content-Length: {len(case.body)}".encode())
    lines.append(b"Connection: close")
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + (case.body or b"")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        # the app marks every answer it makes; gunicorn's parser errors have no request id
        return response.status, response.read(), response.getheader("X-Request-Id") is not None


def _error_body_ok(status: int, raw: bytes) -> bool:
    if status < 400:
        return True
    try:
        body = json.loads(raw)
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return bool(errors) and all("title" in e and "code" in e for e in errors)


def test_jwt_fuzz_answers_only_200_400_or_401(site: Site) -> None:
    cases = all_cases(site, random_per_base=env_int("RELIABILITY_FUZZ_CASES", 60))
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def check(case: Case, status: int, raw: bytes, from_app: bool) -> None:
        statuses[status] += 1
        if status >= 500 or status not in case.allowed:
            failures.append(
                f"{case.label}: {status} (allowed {sorted(case.allowed)}) {raw[:200]!r}"
            )
        elif not from_app and status not in PARSER:
            failures.append(f"{case.label}: {status} not from the app {raw[:200]!r}")
        elif from_app and not _error_body_ok(status, raw):
            failures.append(f"{case.label}: {status} without the error body: {raw[:200]!r}")

    for case in cases:
        check(case, *send(site.stack.port, case))
    # the server is still healthy and still serves the valid requests after all of that
    for method, target, body in _bases(site):
        case = _case(site, "valid after fuzzing", method, target, body, OK)
        check(case, *send(site.stack.port, case))
    summary(
        "jwt-fuzz",
        requests=sum(statuses.values()),
        mutations=len(cases),
        statuses=dict(sorted(statuses.items())),
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
    )
    assert not failures, "\n".join(failures[:40])
