"""Encryption of secrets at rest and hashing of keys.

Shared secrets Jira sends at install are encrypted with a key derived from ``SECRET_KEY``; a copy
of the database alone does not reveal them. API keys and link codes are only ever stored hashed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) keyed from ``SECRET_KEY``."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"provider/shared-secrets/v1"
        ).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """:raises ValueError: when the token was not made with this key or was altered."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with this SECRET_KEY") from None


def new_key(prefix: str) -> str:
    """A new random key with a recognisable prefix (for secret scanners)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    """Hash a high-entropy key for storage and lookup.

    Keys are 256-bit random values, so a plain SHA-256 is enough (a slow password hash would only
    add latency to every API call without adding strength).
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def keys_match(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
