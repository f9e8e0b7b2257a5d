"""Settings: the only place that reads the environment.

Every other module receives a :class:`Settings` instance; tests build one directly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_INSTALL_KEYS_URL = "https://connect-install-keys.atlassian.com"
DEFAULT_CONNECT_JS_URL = "https://connect-cdn.atl-paas.net/all.js"
DEFAULT_FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
FORGE_APP_ARI_PREFIX = "ari:cloud:ecosystem::app/"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SettingsError(Exception):
    """A setting is missing or wrong; the message tells a person what to do."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str
    base_url: str = DEFAULT_BASE_URL
    app_key: str = "ops-provider"
    app_name: str = "Operations Provider"
    secret_key: str
    port: int = 8000
    install_keys_url: str = DEFAULT_INSTALL_KEYS_URL
    allowed_jira_hosts: tuple[str, ...] = ("*.atlassian.net",)
    # Jira's JavaScript API for pages inside its iframes. Only the local simulator, which plays
    # Jira's host side itself, needs another one.
    connect_js_url: str = DEFAULT_CONNECT_JS_URL
    # The Forge app's id (its ARI): the audience every Forge Invocation Token must name. Unset,
    # the app takes no Forge invocations.
    forge_app_id: str | None = None
    # Where Forge publishes the keys that sign invocation tokens (staging has its own).
    forge_jwks_url: str = DEFAULT_FORGE_JWKS_URL
    # Hosts a token's app.apiBaseUrl may name: the app system token is only ever sent there.
    forge_api_hosts: tuple[str, ...] = ("api.atlassian.com",)
    log_level: str = "INFO"
    jwt_leeway_seconds: int = 30
    instance_path: str = "instance"
    # Outgoing integration actions (postToUrl) may not reach private or loopback addresses
    # unless this is set; local development and the test suite turn it on explicitly.
    allow_private_outbound: bool = False
    max_request_bytes: int = 1_048_576
    api_rate_limit_per_minute: int = 6000
    # How long the intake views may take what an API key resolved to without looking it up
    # again: a key revoked in another process still works this long (0 turns it off).
    api_key_cache_seconds: float = 2.0
    # Where rate limits count: memory:// (each process on its own) or redis://… (shared).
    rate_limit_storage_url: str = "memory://"
    # How many proxies in front of the app append to X-Forwarded-For (a PaaS router is one);
    # the client address rate limits key on is the one the outermost trusted proxy saw.
    proxy_hops: int = 0
    # The bearer token a Prometheus scraper sends to /metrics; unset, /metrics does not exist.
    metrics_token: str = ""
    # prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR), which the app's
    # commands set for their processes; unset, /metrics shows the answering process alone.
    metrics_dir: str | None = None
    testing: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_path(self) -> str:
        """Path component of ``base_url`` without a trailing slash ('' at the root)."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def is_local(self) -> bool:
        """True when the app is only reachable from this machine (a laptop run or a test)."""
        return (urlsplit(self.base_url).hostname or "") in LOOPBACK_HOSTS

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables.

        :raises SettingsError: when a value is missing or malformed.
        """
        env = os.environ if env is None else env
        instance = Path(env.get("INSTANCE_PATH") or "instance")
        base_url = (env.get("BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"BASE_URL must be an absolute http(s) URL, got {base_url!r}")
        local = parts.hostname in LOOPBACK_HOSTS
        if not local and parts.scheme != "https":
            raise SettingsError("BASE_URL must use https: Jira only calls apps over TLS")

        database_url = normalize_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{(instance / 'provider.sqlite3').resolve()}"
        )
        secret_key = env.get("SECRET_KEY") or ""
        if not secret_key:
            if not local:
                raise SettingsError(
                    "SECRET_KEY is not set. It encrypts the shared secrets Jira sends at install; "
                    "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                    "and keep it: losing it means every site must reinstall the app."
                )
            secret_key = _local_secret_key(instance)
        elif len(secret_key) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters long")

        hosts = _hosts(env.get("ALLOWED_JIRA_HOSTS") or "*.atlassian.net")
        return cls(
            database_url=database_url,
            base_url=base_url,
            app_key=env.get("APP_KEY") or "ops-provider",
            app_name=env.get("APP_NAME") or "Operations Provider",
            secret_key=secret_key,
            port=_int(env, "PORT", 8000),
            install_keys_url=(env.get("INSTALL_KEYS_URL") or DEFAULT_INSTALL_KEYS_URL).rstrip("/"),
            allowed_jira_hosts=hosts,
            connect_js_url=env.get("CONNECT_JS_URL") or DEFAULT_CONNECT_JS_URL,
            forge_app_id=forge_app_ari(env.get("FORGE_APP_ID") or ""),
            forge_jwks_url=_http_url(env, "FORGE_JWKS_URL", DEFAULT_FORGE_JWKS_URL),
            forge_api_hosts=_hosts(env.get("FORGE_API_HOSTS") or "api.atlassian.com"),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            jwt_leeway_seconds=_int(env, "JWT_LEEWAY_SECONDS", 30),
            instance_path=str(instance),
            allow_private_outbound=_bool(env, "ALLOW_PRIVATE_OUTBOUND", default=False),
            max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 1_048_576),
            api_rate_limit_per_minute=_int(env, "API_RATE_LIMIT_PER_MINUTE", 6000),
            api_key_cache_seconds=_seconds(env, "API_KEY_CACHE_SECONDS", 2.0, most=60.0),
            rate_limit_storage_url=_storage_url(env.get("RATE_LIMIT_STORAGE_URL") or "memory://"),
            # A public https deployment is behind a TLS-terminating router (that is how gunicorn,
            # speaking plain HTTP, serves https); a laptop run talks to its clients directly.
            proxy_hops=_int(env, "PROXY_HOPS", 0 if local else 1),
            metrics_token=_metrics_token(env.get("METRICS_TOKEN") or ""),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        )


def normalize_database_url(url: str) -> str:
    """Accept the URLs PaaS providers hand out and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise SettingsError(
        f"DATABASE_URL must be a sqlite:/// or postgres:// URL, got scheme {url.split(':', 1)[0]!r}"
    )


def forge_app_ari(value: str) -> str | None:
    """The app id as an ARI; ``forge register`` prints one, and a bare id is accepted too.

    :raises SettingsError: for anything else.
    """
    value = value.strip()
    if not value:
        return None
    ari = value if value.startswith(FORGE_APP_ARI_PREFIX) else FORGE_APP_ARI_PREFIX + value
    app = ari[len(FORGE_APP_ARI_PREFIX) :]
    if not app or not all(c.isalnum() or c == "-" for c in app):
        raise SettingsError(
            f"FORGE_APP_ID must be the app id `forge register` printed "
            f"({FORGE_APP_ARI_PREFIX}…), got {value!r}"
        )
    return ari


def _hosts(raw: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    url = env.get(name) or default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {url!r}")
    return url


def _metrics_token(token: str) -> str:
    if token and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        raise SettingsError(
            "METRICS_TOKEN must be at least 16 printable ASCII characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def _storage_url(url: str) -> str:
    if not url.startswith(("memory://", "redis://", "rediss://", "redis+sentinel://")):
        raise SettingsError(
            f"RATE_LIMIT_STORAGE_URL must be memory:// or a redis:// URL, got {url.split(':', 1)[0]!r}"
        )
    return url


def _local_secret_key(instance: Path) -> str:
    """Generate a secret key for a laptop run once and reuse it, so stored secrets stay readable."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _seconds(env: Mapping[str, str], name: str, default: float, *, most: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= most:  # also refuses nan
        raise SettingsError(f"{name} must be a number of seconds from 0 to {most:g}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")
