"""Connect JWTs and the query string hash (qsh), as pure functions.

The canonical request follows Atlassian's reference implementations; where they disagree the
behaviour of the host (Jira, Java) wins, because Jira is the one that signs and verifies:

* the path is the raw, still-encoded request path with the base path stripped on a segment
  boundary, ``&`` escaped as ``%26``, one trailing slash removed;
* query parameters come from the raw query string only (the form body only when asked, for a
  POST/PUT with an empty query), ``jwt`` is dropped, repeated keys are joined with ``,`` in the
  order of their decoded values, keys are sorted by their encoded form;
* names and values are re-encoded RFC 3986 style (space ``%20``, ``*`` ``%2A``, ``~`` kept).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Literal
from urllib.parse import quote
from urllib.parse import unquote_plus
from urllib.parse import urlsplit

import jwt as pyjwt
from jwt.algorithms import HMACAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

CONTEXT_QSH = "context-qsh"
# Jira signs requests for ~3 minutes and page and context tokens for 15; an hour is generous.
MAX_TOKEN_LIFETIME_SECONDS = 3600
QshMode = Literal["request", "context"]


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_path(raw_path: str, base_path: str = "") -> str:
    """Return the canonical URI part of the canonical request."""
    path = raw_path
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :]
    if not path:
        path = "/"
    path = path.replace("&", "%26")
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


def canonical_query(raw_query: str) -> str:
    """Return the canonical query part of the canonical request."""
    grouped: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name, errors="replace")
        if name == "jwt":
            continue
        grouped.setdefault(name, []).append(unquote_plus(value, errors="replace"))
    encoded = sorted((_encode(name), sorted(values)) for name, values in grouped.items())
    return "&".join(f"{name}={','.join(_encode(v) for v in values)}" for name, values in encoded)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str = "",
    *,
    base_path: str = "",
    form_body: str | None = None,
) -> str:
    """Build ``METHOD&URI&QUERY`` for a request.

    :param form_body: an ``application/x-www-form-urlencoded`` body; it supplies the parameters
        only for a POST or PUT whose query string is empty (Atlassian's JS behaviour).
    """
    method = method.upper()
    params = raw_query
    if not raw_query and form_body is not None and method in ("POST", "PUT"):
        params = form_body
    return f"{method}&{canonical_path(raw_path, base_path)}&{canonical_query(params)}"


def split_url(url: str) -> tuple[str, str]:
    """Split a URL or a request target into its raw path and raw query, dropping any fragment."""
    url = url.split("#", 1)[0]
    if "://" in url:
        parts = urlsplit(url)
        return parts.path, parts.query
    path, _, query = url.partition("?")
    return path, query


def base_path_of(base_url: str) -> str:
    """The path component of a base URL (``https://x.atlassian.net/wiki`` → ``/wiki``)."""
    if "://" in base_url:
        return urlsplit(base_url).path.rstrip("/")
    return base_url.rstrip("/")


def query_string_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def qsh_for_url(method: str, url: str, base_url: str = "") -> str:
    path, query = split_url(url)
    return query_string_hash(
        canonical_request(method, path, query, base_path=base_path_of(base_url))
    )


# ── signing ────────────────────────────────────────────────────────────────────────────────────


def sign_hs256(
    *,
    iss: str,
    secret: str,
    method: str,
    url: str,
    base_url: str = "",
    lifetime: int = 180,
    now: int | None = None,
    qsh: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Sign a request the Connect way: ``iss``, ``iat``, ``exp`` and the request's ``qsh``.

    Used for the app's calls to Jira (``iss`` = app key) and, in development tools and tests, for
    the calls Jira makes to the app (``iss`` = client key).
    """
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": iss,
        "iat": issued,
        "exp": issued + lifetime,
        "qsh": qsh if qsh is not None else qsh_for_url(method, url, base_url),
    }
    claims.update(extra or {})
    return pyjwt.encode(claims, secret, algorithm="HS256")


# ── verification ───────────────────────────────────────────────────────────────────────────────


class JwtError(Exception):
    """A token that does not verify; ``code`` says why, for logs and the 401 body."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What a qsh is computed over: the method and the raw request URI as received."""

    method: str
    raw_path: str
    raw_query: str
    base_path: str = ""
    form_body: str | None = None

    def qsh(self) -> str:
        return query_string_hash(
            canonical_request(self.method, self.raw_path, self.raw_query, base_path=self.base_path)
        )

    def qsh_candidates(self) -> list[str]:
        first = self.qsh()
        if self.form_body is None or self.raw_query or self.method.upper() not in ("POST", "PUT"):
            return [first]
        with_body = query_string_hash(
            canonical_request(
                self.method, self.raw_path, "", base_path=self.base_path, form_body=self.form_body
            )
        )
        return [first, with_body]


def unverified_header(token: str) -> dict[str, Any]:
    """A token's header, read (not trusted) to choose the algorithm and key to verify it with."""
    try:
        return pyjwt.get_unverified_header(token)
    except pyjwt.PyJWTError:
        raise JwtError("The JWT is malformed.", code="invalid_token") from None


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], _Plain | None]:
    """Header and claims of a token, read (not trusted) to find who claims to have signed it;
    with its plain reading when it is plain (see :func:`_plain_token`)."""
    plain = _plain_token(token)
    if plain is not None:
        return plain.header, plain.claims, plain
    try:
        parts = pyjwt.decode_complete(token, options={"verify_signature": False})
    except pyjwt.PyJWTError:
        raise JwtError("The JWT is malformed.", code="invalid_token") from None
    header, claims = parts.get("header"), parts.get("payload")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("The JWT is malformed.", code="invalid_token")
    return header, claims, None


# Three unpadded base64url segments: every token Jira signs. Anything else takes PyJWT's path.
_PLAIN_TOKEN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")


@dataclass(frozen=True, slots=True)
class _Plain:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _plain_token(token: str) -> _Plain | None:
    """What PyJWT reads from a plain token, with a tenth of its work; None when the token is
    not plain (padding, ``crit``/``b64`` headers, anything unusual: PyJWT's path then).
    """
    match = _PLAIN_TOKEN.fullmatch(token)
    if match is None:
        return None
    decoded: list[bytes] = []
    for segment in match.groups():
        if len(segment) % 4 == 1:
            return None
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        # PyJWT refuses a segment that is not the canonical encoding of its bytes
        if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode():
            return None
        decoded.append(raw)
    objects = []
    for raw in decoded[:2]:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        objects.append(value)
    header, claims = objects
    if "crit" in header or "b64" in header or not isinstance(header.get("kid", ""), str):
        return None
    signing_input = token[: match.end(2)].encode()
    return _Plain(header, claims, signing_input, decoded[2])


_HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)


@functools.lru_cache(maxsize=1024)
def _hmac_key(secret: str) -> bytes:
    """PyJWT's checks of an HMAC secret (not empty; not a PEM, SSH, DER or JWK key), once per
    secret: they try to parse the secret as each kind of key, which was the costliest step of
    verifying a Jira call. A secret that fails raises each time (exceptions are not cached)."""
    key: bytes = _HS256.prepare_key(secret)
    if message := _HS256.check_key_length(key):
        warnings.warn(message, InsecureKeyLengthWarning, stacklevel=2)
    return key


def _verify_hs256(plain: _Plain, secret: str) -> None:
    """PyJWT's HS256 signature check (the header's algorithm, the key, the MAC), same errors."""
    if plain.header.get("alg") != "HS256":
        raise JwtError("The JWT could not be verified.", code="invalid_token")
    try:
        key = _hmac_key(secret)
    except (pyjwt.PyJWTError, ValueError, TypeError):
        raise JwtError("The JWT could not be verified.", code="invalid_token") from None
    if not hmac.compare_digest(plain.signature, _HS256.sign(plain.signing_input, key)):
        raise JwtError("The JWT signature is invalid.", code="invalid_signature")


def decode_claims(
    token: str, key: Any, *, algorithm: str, leeway: int, **kwargs: Any
) -> dict[str, Any]:
    """Verify a token with ``key`` and the one ``algorithm`` the caller expects; its claims.

    ``kwargs`` go to :func:`jwt.decode` (``audience``, ``issuer``, ``options``).

    :raises JwtError: for every failure, with a code naming it.
    """
    try:
        claims: dict[str, Any] = pyjwt.decode(
            token, key, algorithms=[algorithm], leeway=leeway, **kwargs
        )
    except pyjwt.ExpiredSignatureError:
        raise JwtError("The JWT has expired.", code="token_expired") from None
    except pyjwt.ImmatureSignatureError:
        raise JwtError("The JWT is not valid yet.", code="token_not_yet_valid") from None
    except pyjwt.InvalidAudienceError:
        raise JwtError("The JWT audience is not this app.", code="invalid_audience") from None
    except pyjwt.InvalidIssuerError:
        raise JwtError("The JWT issuer is not accepted here.", code="invalid_issuer") from None
    except pyjwt.MissingRequiredClaimError as e:
        raise JwtError(f"The JWT lacks the '{e.claim}' claim.", code="invalid_token") from None
    except pyjwt.InvalidSignatureError:
        raise JwtError("The JWT signature is invalid.", code="invalid_signature") from None
    except (pyjwt.PyJWTError, ValueError, TypeError):
        raise JwtError("The JWT could not be verified.", code="invalid_token") from None
    _check_lifetime(claims, leeway)
    return claims


def _check_lifetime(claims: Mapping[str, Any], leeway: int) -> None:
    # Jira's tokens live minutes; one that claims years is a token someone minted to keep.
    exp = claims.get("exp")
    start = claims.get("iat", time.time())
    if not isinstance(exp, int | float) or not isinstance(start, int | float):
        raise JwtError("The JWT's 'exp' and 'iat' must be numbers.", code="invalid_token")
    if exp - min(start, time.time()) > MAX_TOKEN_LIFETIME_SECONDS + leeway:
        raise JwtError("The JWT lives longer than an hour.", code="lifetime_too_long")


def _check_qsh(claims: Mapping[str, Any], target: RequestTarget, mode: QshMode) -> None:
    qsh = claims.get("qsh")
    if not isinstance(qsh, str):
        raise JwtError("The JWT lacks a valid 'qsh' claim.", code="invalid_qsh")
    if mode == "context":
        if not hmac.compare_digest(qsh.encode(), CONTEXT_QSH.encode()):
            raise JwtError("This endpoint takes a context token.", code="invalid_qsh")
        return
    matched = False
    for candidate in target.qsh_candidates():
        matched |= hmac.compare_digest(qsh.encode(), candidate.encode())
    if not matched:
        raise JwtError("The query string hash does not match the request.", code="invalid_qsh")


@dataclass(frozen=True, slots=True)
class HostToken:
    """A token Jira sent, read but not verified: who claims to have signed it, to find the
    secret to verify it with (:func:`verify_host_jwt` then reads it no second time)."""

    token: str
    issuer: str
    plain: _Plain | None


def read_host_token(token: str) -> HostToken:
    """Read who claims to have signed an HS256 token (not trusted: the caller looks up the secret).

    :raises JwtError: for a malformed token, another algorithm, or no ``iss``.
    """
    header, unverified_claims, plain = _unverified(token)
    _signed_with(header, "HS256", "The JWT must be signed with HS256.")
    issuer = _named(unverified_claims, "iss", "The JWT lacks the 'iss' claim.")
    return HostToken(token, issuer, plain)


def issuer_of(token: str) -> str:
    """Who claims to have signed an HS256 token (see :func:`read_host_token`)."""
    return read_host_token(token).issuer


def _signed_with(header: dict[str, Any], algorithm: str, message: str) -> None:
    if header.get("alg") != algorithm:
        raise JwtError(message, code="invalid_algorithm")


def _named(values: dict[str, Any], name: str, message: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise JwtError(message, code="invalid_token")
    return value


def _check_claims(claims: dict[str, Any], required: list[str], leeway: int) -> None:
    """PyJWT's claim checks, in its order and with its outcomes (``aud`` unchecked, as Jira's
    tokens have none), then the lifetime cap; run here on the claims already parsed once."""
    unverifiable = JwtError("The JWT could not be verified.", code="invalid_token")
    for name in required:
        if claims.get(name) is None:
            raise JwtError(f"The JWT lacks the '{name}' claim.", code="invalid_token")
    now = time.time()
    for name in ("iat", "nbf", "exp"):
        if name not in claims:
            continue
        try:
            value = int(claims[name])
        except (ValueError, TypeError, OverflowError):
            raise unverifiable from None
        if name == "exp" and value <= now - leeway:
            raise JwtError("The JWT has expired.", code="token_expired")
        if name != "exp" and value > now + leeway:
            raise JwtError("The JWT is not valid yet.", code="token_not_yet_valid")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise unverifiable
    _check_lifetime(claims, leeway)


def verify_host_jwt(
    token: str,
    target: RequestTarget,
    *,
    secret: str,
    mode: QshMode = "request",
    leeway: int = 30,
    read: HostToken | None = None,
) -> dict[str, Any]:
    """Verify an HS256 token Jira signed with an installation's shared secret; return its claims.

    The algorithm is fixed here, never read from the token. ``read``: this same token as
    :func:`read_host_token` read it for this request, so that it is not parsed twice.

    :raises JwtError: for every failure.
    """
    options: dict[str, Any] = {"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False}
    plain = read.plain if read is not None and read.token is token else _plain_token(token)
    if plain is None:
        claims = decode_claims(token, secret, algorithm="HS256", leeway=leeway, options=options)
    else:
        # PyJWT's checks in PyJWT's order (signature, then claims); the key's own checks run
        # once per secret (_hmac_key).
        _verify_hs256(plain, secret)
        claims = plain.claims
        _check_claims(claims, options["require"], leeway)
    _check_qsh(claims, target, mode)
    return claims


def key_id_of(token: str) -> str:
    """The ``kid`` of a signed-install (RS256) token, which names the public key to fetch.

    :raises JwtError: for a malformed token, another algorithm, or no ``kid``.
    """
    header = unverified_header(token)
    _signed_with(header, "RS256", "Lifecycle callbacks must be signed with RS256.")
    return _named(header, "kid", "The lifecycle JWT has no 'kid' header.")


def verify_install_jwt(
    token: str,
    target: RequestTarget,
    *,
    client_key: str,
    audience: str,
    public_key: Any,
    leeway: int = 30,
) -> dict[str, Any]:
    """Verify a signed-install (RS256) lifecycle token with the key its ``kid`` names.

    :raises JwtError: for every failure.
    """
    key_id_of(token)
    key = public_key
    audiences = [audience.rstrip("/"), audience.rstrip("/") + "/"]
    claims = decode_claims(
        token,
        key,
        algorithm="RS256",
        leeway=leeway,
        audience=audiences,
        options={"require": ["iss", "exp", "qsh", "aud"]},
    )
    if not hmac.compare_digest(str(claims.get("iss")).encode(), client_key.encode()):
        raise JwtError("The JWT issuer does not match the clientKey.", code="invalid_issuer")
    _check_qsh(claims, target, "request")
    return claims
