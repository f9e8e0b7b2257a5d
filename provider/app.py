"""The composition root: builds the Flask app from settings and wires every package together."""

from __future__ import annotations

import logging
import math
import random
import re
import time
from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from flask import g
from flask import request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from flask.sessions import SessionMixin
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from provider import db
from provider import errors
from provider.config import Settings
from provider.crypto import SecretBox
from provider.extension import RATE_LIMITER
from provider.extension import SECRET_BOX
from provider.extension import SETTINGS
from provider.logging import client_key_var
from provider.logging import configure_logging
from provider.logging import request_id_var
from provider.ops.paths import JSM_MOUNT
from provider.ops.paths import OPSGENIE_PREFIX
from provider.ops.paths import JsmPaths
from provider.ops.sync.links import bind_links
from provider.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    install_keys: Any | None = None,
    configure_logs: bool = True,
) -> Flask:
    """Create the web app.

    :param session_factory: test hook; by default one is made from ``settings.database_url``.
    :param install_keys: test hook; by default keys are fetched from ``settings.install_keys_url``.
    """
    settings = settings or Settings.from_env()
    if configure_logs:
        configure_logging(settings.log_level)

    app = Flask(__name__, instance_path=None, static_folder=None)
    app.json = _JSONProvider(app)
    app.session_interface = _NoCookieSession()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    SETTINGS.install(app, settings)
    SECRET_BOX.install(app, SecretBox(settings.secret_key))
    RATE_LIMITER.install(
        app, RateLimiter(settings.rate_limit_storage_url, namespace=settings.app_key)
    )
    # JSM's printed prefixes and Opsgenie's trailing slashes reach the routes that answer them.
    app.wsgi_app = JsmPaths(app.wsgi_app)  # type: ignore[method-assign]
    if settings.proxy_hops:
        # request.remote_addr becomes the address the outermost trusted proxy saw, so limits
        # keyed on it are per client, not per router (werkzeug's ProxyFix, X-Forwarded-For).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]

    factory = session_factory or db.make_session_factory(settings)
    db.init_app(app, bind_links(factory, settings.base_url))
    errors.register_error_handlers(app)
    _request_context(app)
    _health_routes(app)
    _register_packages(app, settings, install_keys)
    _metrics(app, settings, factory)
    return app


def _metrics(app: Flask, settings: Settings, factory: sessionmaker[Session]) -> None:
    """Prometheus: answers counted, and /metrics with the database's view of the backlog."""
    from provider import metrics
    from provider.ops.alerts.gauges import AlertRequestGauges
    from provider.outbox.gauges import OutboxGauges

    metrics.init_app(
        app,
        metrics.Metrics(),
        token=settings.metrics_token,
        directory=settings.metrics_dir,
        collectors=[OutboxGauges(factory), AlertRequestGauges(factory)],
    )


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deeply to parse is malformed JSON, not a crash,
    and what is written is always JSON.

    ``json.loads`` raises ``RecursionError`` for a few thousand nested brackets; ``get_json``
    only turns ``ValueError`` into "no JSON" (silent) or a 400. ``json.dumps`` writes ``NaN``
    and ``Infinity``, which no JSON parser reads; they go out as ``null``, as pydantic's
    dumps write them.
    """

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        try:
            return super().dumps(obj, allow_nan=False, **kwargs)
        except ValueError:
            return super().dumps(_finite(obj), allow_nan=False, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _NoCookieSession(SessionInterface):
    """No cookie session: nothing here keeps state in one (Jira's calls carry a JWT, the API a
    key). Flask would otherwise build a signing serializer on every request; writing to
    ``flask.session`` fails loudly instead of setting a cookie no one reads."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _register_packages(app: Flask, settings: Settings, install_keys: Any | None) -> None:
    """Register each package's blueprints; the only place that imports blueprint modules."""
    from provider.connect import api as connect_api
    from provider.connect import forge_remote
    from provider.ops import openapi
    from provider.ops.access.http import init_api
    from provider.ops.access.keys import KeyMemory
    from provider.ops.access.opsgenie import error_body as opsgenie_error_body
    from provider.ops.access.principal import KeyResolvers
    from provider.ops.alerts import api as alerts_api
    from provider.ops.alerts import api_v2 as alerts_api_v2
    from provider.ops.alerts.intake import INTAKE
    from provider.ops.alerts.intake import GroupCommit
    from provider.ops.components import api as components_api
    from provider.ops.components import jira as component_actions
    from provider.ops.heartbeats import api as heartbeats_api
    from provider.ops.heartbeats import api_v2 as heartbeats_api_v2
    from provider.ops.incidents import api as incidents_api
    from provider.ops.incidents import jira as incident_events
    from provider.ops.integrations import api as integrations_api
    from provider.ops.integrations import ingestion
    from provider.ops.integrations.models import Integration
    from provider.ops.workspaces import jira as workspace_actions
    from provider.ops.workspaces.models import Workspace
    from provider.ops.workspaces.service import resolve_workspace_key
    from provider.web import admin as admin_page
    from provider.web import console as incident_console
    from provider.web import pages as object_pages
    from provider.web import public as public_pages
    from provider.web import reviews as review_pages

    connect_api.init_app(
        app,
        settings,
        install_keys=install_keys,
        hooks=connect_api.LifecycleHooks(installed=[_backfill_on_reinstall()]),
    )
    app.register_blueprint(forge_remote.bp)
    app.register_blueprint(workspace_actions.bp)
    app.register_blueprint(component_actions.bp)
    app.register_blueprint(incident_events.bp)
    INTAKE.install(app, GroupCommit(db.SESSIONS.of(app)))
    keys = KeyMemory(settings.api_key_cache_seconds)
    # What decides a key's principal: a change committed here is seen at once.
    keys.forget_on_change(db.SESSIONS.of(app), Workspace, Integration)
    init_api(
        app,
        settings.api_rate_limit_per_minute,
        KeyResolvers([resolve_workspace_key, ingestion.resolve_integration_key]),
        keys,
    )
    app.register_blueprint(components_api.bp)
    app.register_blueprint(alerts_api.bp)
    app.register_blueprint(alerts_api_v2.bp)
    app.register_blueprint(heartbeats_api.bp)
    app.register_blueprint(heartbeats_api_v2.bp)
    errors.register_error_format(app, OPSGENIE_PREFIX, opsgenie_error_body)
    app.register_blueprint(incidents_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(integrations_api.bp)
    app.register_blueprint(review_pages.bp)
    app.register_blueprint(object_pages.bp)
    app.register_blueprint(incident_console.bp)
    app.register_blueprint(object_pages.static_bp)
    app.register_blueprint(admin_page.bp)
    # Jira's calls (the admin page's included) and JSM's printed paths keep the JSON errors
    # their callers parse; every other error answers a browser with a page.
    jira_called = {
        bp.name
        for bp in (
            connect_api.bp,
            forge_remote.bp,
            workspace_actions.bp,
            component_actions.bp,
            admin_page.bp,
        )
    }
    public_pages.init_app(
        app,
        keep_json=lambda: request.blueprint in jira_called or JSM_MOUNT in request.environ,
    )


def _backfill_on_reinstall() -> Any:
    """Jira dropped the app's data at uninstall: a re-install re-sends everything, in order."""
    from provider.ops.sync import service as sync

    def hook(session: Session, installation: Any, reinstalled: bool) -> None:
        if reinstalled:
            count = sync.backfill(session, installation)
            logger.info("re-install backfill enqueued %s messages", count)

    return hook


def _request_context(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # A caller's id is kept only if it is one token: with a space or a quote in it, it could
        # write fields of its own into a log line ("x level=ERROR client_key=…").
        # A generated id only tells log lines apart, it guards nothing: the process's PRNG (the
        # random module reseeds it in each forked worker) instead of a getrandom() system call.
        rid = incoming if _REQUEST_ID.fullmatch(incoming) else f"{random.getrandbits(128):032x}"
        g.request_id = rid
        g.started = time.perf_counter()
        request_id_var.set(rid)
        client_key_var.set("-")

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response


def _health_routes(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        # alembic (with mako and pygments) is a tenth of a web worker's memory, for this alone
        from provider import migrate

        session = db.get_session()
        try:
            connection = session.connection()
            connection.execute(text("SELECT 1"))
            current = migrate.current_revision(connection)
        except Exception:  # any database failure means "not ready", never a 500
            logger.warning("readiness check: database unreachable", exc_info=True)
            return errors.body("database_unavailable", "The database is unreachable."), 503
        head = migrate.head_revision()
        if current != head:
            return errors.body(
                "migrations_pending", f"The database is at {current}, the code expects {head}."
            ), 503
        return {"status": "ready", "revision": current}, 200
