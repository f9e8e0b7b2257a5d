"""A token read for its issuer is verified from that reading, with exactly the same outcome."""

from __future__ import annotations

import time

import pytest

from provider.connect.jwt import JwtError
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import read_host_token
from provider.connect.jwt import sign_hs256
from provider.connect.jwt import verify_host_jwt

SECRET = "s" * 40
TARGET = RequestTarget("GET", "/containers/search", "searchQuery=svc")


def _signed(**kwargs: object) -> str:
    return sign_hs256(
        iss="site", secret=SECRET, method="GET", url="/containers/search?searchQuery=svc", **kwargs
    )  # type: ignore[arg-type]


def _outcome(token: str, *, secret: str = SECRET, read_once: bool) -> tuple[str, ...]:
    try:
        read = read_host_token(token) if read_once else None
        claims = verify_host_jwt(token, TARGET, secret=secret, read=read)
    except JwtError as e:
        return (e.code, e.message)
    return ("ok", claims["iss"])


@pytest.mark.parametrize(
    ("token", "secret"),
    [
        (_signed(), SECRET),
        (_signed(), "another secret of forty characters......"),
        (_signed(now=int(time.time()) - 7200), SECRET),
        (_signed(qsh="0" * 64), SECRET),
        (_signed() + "=", SECRET),  # not plain: PyJWT's reading, either way
    ],
)
def test_verifying_from_the_first_reading_changes_no_outcome(token: str, secret: str) -> None:
    assert _outcome(token, secret=secret, read_once=True) == _outcome(
        token, secret=secret, read_once=False
    )


def test_a_reading_of_another_token_is_not_used() -> None:
    good, forged = _signed(), _signed()[:-4] + "AAAA"
    with pytest.raises(JwtError) as refused:
        verify_host_jwt(forged, TARGET, secret=SECRET, read=read_host_token(good))
    assert refused.value.code == "invalid_signature"
