"""Every link a role is shown leads somewhere it may go: crawling the seeded dashboard as a
viewer, support and an admin finds no link that answers 404, 403 or an error.

The crawl follows `href` and `hx-get` from the overview outwards, taking at most a few
addresses of each route and query shape (the seed holds hundreds of streams; one stream
page tests the template as well as five hundred).
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from html import unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.contexts.seed import load_seed
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook

LINK = re.compile(r'\s(?:href|hx-get)="([^"]+)"')
PER_SHAPE = 3
MAX_VISITS = 600
NOT_CRAWLED = ("/static/", "/login", "/logout")


def links_on(page_url: str, body: str) -> list[str]:
    found = []
    for raw in LINK.findall(body):
        target = unescape(raw)
        if target.startswith(("#", "mailto:", "javascript:")):
            continue
        parts = urlsplit(urljoin(f"http://localhost{page_url}", target))
        if parts.netloc != "localhost" or parts.path.startswith(NOT_CRAWLED):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def shape(app, url: str) -> tuple[str, frozenset[str]]:
    """The route and the query parameter names of `url`: addresses of one shape render alike."""
    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        endpoint = parts.path  # unrouted: each is its own shape, and answers 404 below
    return endpoint, frozenset(name for name, _ in parse_qsl(parts.query))


def crawl(app, client) -> tuple[list[tuple[int, str, str]], Counter]:
    """Visit what the pages link to; return the links that failed and the routes reached."""
    failures, reached, per_shape = [], Counter(), Counter()
    queue, seen = [("/", "(start)")], {"/"}
    while queue and sum(reached.values()) < MAX_VISITS:
        url, found_on = queue.pop(0)
        response = client.get(url)
        body = response.get_data(as_text=True)
        reached[shape(app, url)[0]] += 1
        if response.status_code >= 400 or "/login" in response.headers.get("Location", ""):
            failures.append((response.status_code, url, found_on))
            continue
        if not response.content_type.startswith("text/html"):
            continue
        for link in links_on(url, body):
            key = shape(app, link)
            if link in seen or per_shape[key] >= PER_SHAPE:
                continue
            seen.add(link)
            per_shape[key] += 1
            queue.append((link, url))
    return failures, reached


@pytest.fixture
def seeded(db_url):
    runtime = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    load_seed(runtime.router)
    yield runtime
    runtime.close()


def test_no_role_is_shown_a_link_that_fails(seeded):
    app = create_app({"TESTING": True}, runtime=seeded)
    book = AccountBook(seeded.store.engine)
    report = {}
    for role in ROLES:
        book.ensure(role, role)
        client = app.test_client()
        client.get(f"/login/link/{book.create_login_token(role)}")
        report[role] = crawl(app, client)

    failures = {role: found for role, (found, _) in report.items() if found}
    assert failures == {}
    viewer_routes, admin_routes = set(report["viewer"][1]), set(report["admin"][1])
    assert {"streams.show", "timeline.index", "catalog.event_type"} <= viewer_routes
    assert {"subjects.show", "console.index", "accounts.show"} <= admin_routes
    assert "subjects.index" not in viewer_routes  # a viewer is not shown support's pages
