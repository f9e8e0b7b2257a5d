"""Jira's tokens are read once and checked here, the way PyJWT checks them: every outcome must be
PyJWT's. Each case goes through ``verify_host_jwt`` and through PyJWT's own ``decode`` (with the
same options) followed by the qsh check, and both must agree on the error code and message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import time
import warnings
from typing import Any

import pytest

from provider.connect.jwt import JwtError
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import _check_qsh
from provider.connect.jwt import decode_claims
from provider.connect.jwt import issuer_of
from provider.connect.jwt import verify_host_jwt

SECRET = "s" * 40
TARGET = RequestTarget("GET", "/containers/search", "searchQuery=svc&workspaceId=w")
NOW = int(time.time())
GOOD = {"iss": "site", "iat": NOW, "exp": NOW + 120, "qsh": TARGET.qsh()}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: dict[str, Any], claims: dict[str, Any], secret: str = SECRET) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _pyjwt_outcome(token: str, secret: str) -> tuple[str, ...]:
    try:
        claims = decode_claims(
            token,
            secret,
            algorithm="HS256",
            leeway=30,
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False},
        )
        _check_qsh(claims, TARGET, "request")
    except JwtError as e:
        return (e.code, e.message)
    return ("ok",)


def _our_outcome(token: str, secret: str) -> tuple[str, ...]:
    try:
        verify_host_jwt(token, TARGET, secret=secret, leeway=30)
    except JwtError as e:
        return (e.code, e.message)
    return ("ok",)


HEADERS: list[dict[str, Any]] = [
    {"alg": "HS256", "typ": "JWT"},
    {"alg": "HS512"},
    {"alg": "none"},
    {"alg": "RS256"},
    {},
    {"alg": "HS256", "kid": 1},
    {"alg": "HS256", "kid": "k"},
    {"alg": "HS256", "crit": ["exp"]},
    {"alg": "HS256", "b64": False, "crit": ["b64"]},
]
CLAIM_CHANGES: list[dict[str, Any]] = [
    {},
    {"exp": NOW - 100},
    {"exp": "soon"},
    {"exp": True},
    {"exp": float("inf")},
    {"exp": NOW + 10**6},
    {"iat": "x"},
    {"iat": [1]},
    {"iat": NOW + 1000},
    {"iat": 1.5},
    {"nbf": NOW + 1000},
    {"nbf": "x"},
    {"nbf": float("nan")},
    {"sub": 1},
    {"sub": "x"},
    {"jti": 2},
    {"iss": 3},
    {"qsh": "other"},
    {"qsh": 5},
    {"aud": "anyone"},
    *({name: None} for name in GOOD),
]
SECRETS = [
    SECRET,
    "short",
    "other" * 10,
    "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    '{"kty": "oct", "k": "abc"}',
]


def _forms(token: str) -> list[str]:
    return [token, token + "=", token[:-1], token.replace(".", "..", 1), token + ".x"]


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: json.dumps(h))
def test_every_claim_header_and_secret_is_judged_as_pyjwt_judges_it(
    header: dict[str, Any],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns of short HMAC keys, both ways alike
        for change, signer, verifier in itertools.product(CLAIM_CHANGES, SECRETS[:2], SECRETS):
            claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
            for token in _forms(_token(header, claims, signer)):
                assert _our_outcome(token, verifier) == _pyjwt_outcome(token, verifier), (
                    header,
                    change,
                    token,
                )


def test_mutated_tokens_are_judged_as_pyjwt_judges_them() -> None:
    rng = random.Random(14)
    good = _token({"alg": "HS256", "typ": "JWT"}, GOOD)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\x00é"
    for _ in range(3000):
        chars = list(good)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(chars))
            roll = rng.random()
            if roll < 0.5:
                chars[pos] = rng.choice(alphabet)
            elif roll < 0.75:
                del chars[pos]
            else:
                chars.insert(pos, rng.choice(alphabet))
        token = "".join(chars)
        assert _our_outcome(token, SECRET) == _pyjwt_outcome(token, SECRET), token


def test_the_issuer_is_read_as_pyjwt_reads_it() -> None:
    assert issuer_of(_token({"alg": "HS256"}, GOOD)) == "site"
    assert issuer_of(_token({"alg": "HS256"}, GOOD) + "=") == "site"  # padded: PyJWT's way
    for token in (
        _token({"alg": "HS256", "crit": ["exp"]}, GOOD),
        _token({"alg": "HS256", "kid": 7}, GOOD),
        "e30.e30.",
    ):
        with pytest.raises(JwtError):
            issuer_of(token)
