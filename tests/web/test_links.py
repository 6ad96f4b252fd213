"""Every link a role is shown leads somewhere it may go: crawling the seeded dashboard as a
viewer, support and an admin finds no link that answers 404, 403 or an error, and every
page it reaches has one `<h1>` and a label for each form field (what a screen reader
needs to say where it is and what to type). Along the way it watches personal data: a
viewer's pages never show a seed user's e-mail address, and every page that shows one
to support or an admin has written an access-log entry.

The crawl follows `href` and `hx-get` from the overview outwards, taking at most a few
addresses of each route and query shape (the seed holds hundreds of streams; one stream
page tests the template as well as five hundred).
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.demo.seed import load_seed
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook

LINK = re.compile(r'\s(?:href|hx-get)="([^"]+)"')
SEED_EMAIL = re.compile(r"[\w.+-]+@(?:mail\.)?example\.(?:org|net|com)")
PLACEHOLDER = re.compile(r'\splaceholder="[^"]*"')  # "u001 or ada@example.org" is no one's
PER_SHAPE = 3
MAX_VISITS = 600
NOT_CRAWLED = ("/static/", "/login", "/logout", "/favicon.ico")  # the icon is no page


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


class PageStructure(HTMLParser):
    """Counts `<h1>`s and finds form fields with no label (wrapping `<label>`, `for`, or
    `aria-label`)."""

    def __init__(self) -> None:
        super().__init__()
        self.headings = 0
        self.inside_label = 0
        self.labelled_ids: set[str] = set()
        self.fields: list[tuple[dict[str, str | None], bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "h1":
            self.headings += 1
        elif tag == "label":
            self.inside_label += 1
            if attributes.get("for"):
                self.labelled_ids.add(attributes["for"])  # type: ignore[arg-type]
        elif tag in ("input", "select", "textarea") and attributes.get("type") not in (
            "hidden",
            "submit",
            "button",
        ):
            self.fields.append((attributes, self.inside_label > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.inside_label -= 1

    def problems(self) -> list[str]:
        found = [] if self.headings == 1 else [f"{self.headings} <h1> headings"]
        for attributes, wrapped in self.fields:
            named = attributes.get("aria-label") or attributes.get("aria-labelledby")
            if not (wrapped or named or attributes.get("id") in self.labelled_ids):
                found.append(f"field {attributes.get('name')!r} has no label")
        return found


def structure_problems(body: str) -> list[str]:
    """What a full page (not an htmx fragment) lacks for a screen reader."""
    if "<html" not in body:
        return []
    checker = PageStructure()
    checker.feed(body)
    return checker.problems()


def shape(app, url: str) -> tuple[str, frozenset[str]]:
    """The route and the query parameter names of `url`: addresses of one shape render alike."""
    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        endpoint = parts.path  # unrouted: each is its own shape, and answers 404 below
    return endpoint, frozenset(name for name, _ in parse_qsl(parts.query))


def emails_shown(body: str) -> set[str]:
    return set(SEED_EMAIL.findall(PLACEHOLDER.sub("", body)))


def crawl(
    app, client, *, log_size: Callable[[], int], sees_personal_data: bool
) -> tuple[list[tuple[int | str, str, str]], Counter]:
    """Visit what the pages link to; return the links that failed (or the page's structural
    or personal-data problem) and the routes reached."""
    failures, reached, per_shape = [], Counter(), Counter()
    queue, seen = [("/", "(start)")], {"/"}
    while queue and sum(reached.values()) < MAX_VISITS:
        url, found_on = queue.pop(0)
        logged_before = log_size()
        response = client.get(url)
        body = response.get_data(as_text=True)
        if emails_shown(body):
            if not sees_personal_data:
                failures.append(("shows personal data", url, found_on))
            elif log_size() == logged_before:
                failures.append(("shows personal data without logging it", url, found_on))
        reached[shape(app, url)[0]] += 1
        if response.status_code >= 400 or "/login" in response.headers.get("Location", ""):
            failures.append((response.status_code, url, found_on))
            continue
        if not response.content_type.startswith("text/html"):
            continue
        failures += [(problem, url, found_on) for problem in structure_problems(body)]
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


def test_a_page_without_a_heading_or_with_an_unlabelled_field_is_found() -> None:
    page = '<html><body><h2>x</h2><input name="q"><label>Name <input name="n"></label>'
    labelled = '<html><body><h1>x</h1><label for="q">Q</label><input id="q" name="q"></body>'

    assert structure_problems(page) == ["0 <h1> headings", "field 'q' has no label"]
    assert structure_problems(labelled) == []
    assert structure_problems("<tr><td>an htmx fragment</td></tr>") == []


def test_no_role_is_shown_a_link_that_fails(seeded):
    app = create_app({"TESTING": True}, runtime=seeded)
    book = AccountBook(seeded.store.engine)
    report = {}

    def log_size() -> int:  # the newest access-log entry's id: it grows with each entry
        newest = seeded.privacy.access_log(limit=1).entries
        return newest[0].id if newest else 0

    for role in ROLES:
        book.ensure(role, role)
        client = app.test_client()
        client.get(f"/login/link/{book.create_login_token(role)}")
        sees = role != "viewer"
        report[role] = crawl(app, client, log_size=log_size, sees_personal_data=sees)

    failures = {role: found for role, (found, _) in report.items() if found}
    assert failures == {}
    viewer_routes, admin_routes = set(report["viewer"][1]), set(report["admin"][1])
    assert {"streams.show", "timeline.index", "catalog.event_type"} <= viewer_routes
    assert {"subjects.show", "console.index", "accounts.show"} <= admin_routes
    assert "subjects.index" not in viewer_routes  # a viewer is not shown support's pages
    assert "subjects.data" in admin_routes  # where decrypted personal data is shown
