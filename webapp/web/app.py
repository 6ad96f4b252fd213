"""The Flask app factory: wire the runtime, security, error pages and one blueprint per area."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.bootstrap import BrowseRuntime, Runtime, build_runtime
from webapp.config import ConfigurationError, Settings
from webapp.queries import occurred_time
from webapp.queries.context import runs_domain
from webapp.queries.personal import placeholder_kind
from webapp.resources import resource_dir
from webapp.web import (
    access,
    errors,
    icons,
    metrics,
    moment,
    pages,
    readable,
    related,
    reveal_links,
    security,
)
from webapp.web.accounts import AccountBook
from webapp.web.browser_sessions import BrowserSessions
from webapp.web.command_tally import CommandTally
from webapp.web.context import EXTENSION_KEY
from webapp.web.filters import datetime_local
from webapp.web.identifiers import IdentifierConverter, KeepEncodedSlashes, requested_page
from webapp.web.login_throttle import LoginThrottle
from webapp.web.page_cache import DEFAULT_MEGABYTES, MAX_MEGABYTES, PAGES_KEY, PageCache
from webapp.web.query_args import EventscopeRequest
from webapp.web.rendering import (
    EventscopeJSONProvider,
    compact_json,
    pretty_json,
    soft_breaks,
)
from webapp.web.sign_ins import SignInLog
from webapp.web.signed_cookies import SignedCookieSessions
from webapp.web.summaries import row_summary
from webapp.web.views import (
    access_log,
    accounts,
    aggregates,
    api,
    api_accounts,
    api_projections,  # noqa: F401 - its routes join the api blueprint
    api_reports,  # noqa: F401 - its route joins the api blueprint
    auth,
    catalog,
    console,
    health,
    notes,
    overview,
    projections,
    reports,
    sign_ins,
    snapshots,
    streams,
    subjects,
    subscriptions,
    timeline,
)

AREAS = (
    auth,
    api,
    overview,
    streams,
    timeline,
    aggregates,
    snapshots,
    subjects,
    projections,
    reports,
    health,
    catalog,
    console,
    notes,
    access_log,
    accounts,
    api_accounts,
    sign_ins,
)
"""Blueprint modules, each exposing `bp`."""

DOMAIN_AREAS = (aggregates, subjects, projections, reports, health, console)
"""Areas that act through eventscope's own domain: absent over another tool's store."""
BROWSE_AREAS = (subscriptions,)
"""Areas only a foreign store needs (eventscope's own checkpoints are on the projections page)."""


def areas_for(runtime: Runtime | BrowseRuntime) -> list[Any]:
    """The blueprint modules this runtime can serve."""
    if isinstance(runtime, BrowseRuntime):
        return [area for area in AREAS if area not in DOMAIN_AREAS] + list(BROWSE_AREAS)
    return list(AREAS)


def create_app(
    config: dict[str, Any] | None = None, runtime: Runtime | BrowseRuntime | None = None
) -> Flask:
    """Build the dashboard over `runtime` (built from settings when not given).

    `config` is Flask configuration plus: `SETTINGS` (a Settings) or `DB_URL`,
    used only when no runtime is passed; `MIGRATE` (default True) for that build.
    """
    config = dict(config or {})
    if runtime is None:
        settings = config.pop("SETTINGS", None) or Settings.from_env(db_url=config.get("DB_URL"))
        runtime = build_runtime(settings, migrate=config.get("MIGRATE", True))

    app = Flask(
        "webapp.web",
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
        static_url_path="/static",
    )
    app.json = EventscopeJSONProvider(app)
    app.request_class = EventscopeRequest
    app.session_interface = SignedCookieSessions()
    app.url_map.converters["id"] = IdentifierConverter
    app.url_map.merge_slashes = False  # `/a//b` is a bad address, not `/a/b`
    app.wsgi_app = KeepEncodedSlashes(app.wsgi_app)  # type: ignore[method-assign]
    app.jinja_env.globals["requested_page"] = requested_page
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_NAME="eventscope_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_env_flag("EVENTSCOPE_COOKIE_SECURE"),
    )
    app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = security.load_secret_key(
            runtime.settings.secret_key, runtime.settings.data_dir
        )
    app.extensions[EXTENSION_KEY] = runtime
    app.extensions["eventscope_accounts"] = AccountBook(runtime.database)
    app.extensions["eventscope_login_throttle"] = LoginThrottle(runtime.database)
    app.extensions["eventscope_sessions"] = BrowserSessions(runtime.database)
    app.extensions["eventscope_sign_ins"] = SignInLog(runtime.database)
    app.extensions["eventscope_command_tally"] = CommandTally(runtime.database)
    app.extensions[PAGES_KEY] = page_cache_for(runtime, app.config.get("PAGE_CACHE_MB"))

    app.jinja_env.autoescape = True
    app.jinja_env.filters["pretty_json"] = pretty_json
    app.jinja_env.filters["compact_json"] = compact_json
    app.jinja_env.filters["soft_breaks"] = soft_breaks
    app.jinja_env.filters["datetime_local"] = datetime_local
    app.jinja_env.filters["occurred_at"] = occurred_time  # when it happened (business time)
    app.jinja_env.filters["placeholder"] = placeholder_kind  # masked / forgotten / unreadable
    app.jinja_env.filters["payload_summary"] = row_summary  # a payload on one line
    app.jinja_env.globals["htmx_script"] = "vendor/htmx-2.0.11.min.js"
    # every area's stylesheet is linked from base.html: a boosted link swaps only <body>
    app.jinja_env.globals["area_stylesheets"] = sorted(
        f"css/{css.name}"
        for css in (resource_dir("static") / "css").glob("*.css")
        if css.name != "eventscope.css"
    )

    security.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    pages.init_app(app)
    reveal_links.init_app(app)
    related.init_app(app)
    readable.init_app(app)
    icons.init_app(app)
    metrics.init_app(app)
    moment.init_app(app)
    for area in areas_for(runtime):
        app.register_blueprint(area.bp)
    proxies = trusted_proxies()
    if proxies:
        # the client's address (login throttling), scheme and host as the proxies saw them
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
    return app


def trusted_proxies() -> int:
    """How many reverse proxies stand in front (EVENTSCOPE_TRUSTED_PROXIES, default 0).

    Only then are X-Forwarded-For/-Proto/-Host/-Prefix believed, and only as many hops as
    there are proxies: a client can write those headers itself.
    """
    raw = os.environ.get("EVENTSCOPE_TRUSTED_PROXIES", "").strip() or "0"
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 10:
        msg = f"EVENTSCOPE_TRUSTED_PROXIES must be a whole number from 0 to 10, not {raw[:20]!r}"
        raise ConfigurationError(msg)
    return int(raw)


def page_cache_megabytes(value: Any = None) -> int:
    """The page cache's size: `value`, else EVENTSCOPE_PAGE_CACHE_MB, else 16 (0: none)."""
    if value is None:
        value = os.environ.get("EVENTSCOPE_PAGE_CACHE_MB", "").strip() or DEFAULT_MEGABYTES
    raw = str(value)
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MEGABYTES:
        msg = (
            f"EVENTSCOPE_PAGE_CACHE_MB must be a whole number from 0 to {MAX_MEGABYTES}, "
            f"not {raw[:20]!r}"
        )
        raise ConfigurationError(msg)
    return int(raw)


def page_cache_for(runtime: Runtime | BrowseRuntime, megabytes: Any = None) -> PageCache | None:
    """The cache of full pages' replies (`webapp.web.page_cache`), of `page_cache_megabytes`,
    emptied whenever the runtime's privacy drops keys. None when it is 0, and over another
    tool's store, whose history may be deleted under it."""
    size = page_cache_megabytes(megabytes)
    if size == 0 or not runs_domain(runtime):
        return None
    cache = PageCache(size * 1024 * 1024)
    runtime.privacy.when_keys_dropped(cache.clear)
    return cache


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
