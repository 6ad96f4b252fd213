"""Browser journeys: Debian's chromium driven by pytest-playwright against a live dashboard.

`live_server` serves `create_app` over a store seeded with the demo data on a free
loopback port; `live_server.ensure_worker()` starts the projections worker in-process
for journeys that need read models.
`login_as(page, role)` logs a page in through a one-time login link.
`screenshot(page, name)` saves `test-artifacts/<name>.png` for people to look at.
Under CI (CI=true) a missing /usr/bin/chromium fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from webapp.bootstrap import BrowseRuntime, Runtime, build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core from the npm registry (tests/browser/package.json; scripts/test.sh installs it)."""
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's chromium (playwright cannot download browsers here)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"browser tests need chromium under CI: {reason}")
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@dataclass
class LiveServer:
    url: str
    runtime: Any
    """A `Runtime`, or a `BrowseRuntime` over another tool's store."""
    accounts: AccountBook
    worker: Any = None

    def login_url(self, role: str) -> str:
        self.accounts.ensure(role, role)
        return f"{self.url}/login/link/{self.accounts.create_login_token(role)}"

    def complete_transfer(
        self,
        transfer_id: str,
        accounts: tuple[str, str],
        *,
        owner: str,
        opening_balance: int,
        amount: int,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        """Open two accounts of `owner` (the first with `opening_balance`), transfer `amount`
        between them and wait until the transfer process manager completed it (30 s at most)."""
        self.ensure_worker()
        router, store = self.runtime.router, self.runtime.store
        metadata = {"actor": actor}
        for number, balance in zip(accounts, (opening_balance, 0), strict=True):
            router.dispatch_json(
                "OpenAccount",
                {"account_number": number, "owner_id": owner, "initial_balance": balance},
                metadata=metadata,
            )
        if correlation_id is not None:
            metadata = {**metadata, "correlation_id": correlation_id}
        source, target = accounts
        router.dispatch_json(
            "TransferMoney",
            {
                "transfer_id": transfer_id,
                "from_account": source,
                "to_account": target,
                "amount": amount,
            },
            metadata=metadata,
        )
        deadline = time.monotonic() + 30
        while not store.read_all(
            stream_prefix=f"transfer-{transfer_id}", types=["TransferCompleted"]
        ):
            if time.monotonic() > deadline:
                pytest.fail(f"the transfer process manager did not complete {transfer_id} in 30 s")
            time.sleep(0.2)

    def ensure_worker(self, timeout: float = 120.0) -> Any:
        """Start the projections worker in this process (once) and wait until it caught up.

        Journeys that need read models or process managers call this; the server
        then keeps the worker running for the rest of the session.
        """
        if self.worker is None:
            from webapp.projections import start_in_process

            self.worker = start_in_process(self.runtime.projections)
        from webapp.projections import wait_until_projected

        wait_until_projected(
            self.runtime.projections, self.runtime.store.head_position(), timeout=timeout
        )
        return self.worker


def _seed(runtime: Runtime) -> None:
    try:
        from webapp.demo.seed import load_seed
    except ImportError:
        return
    load_seed(runtime.router)


@contextmanager
def serving(settings: Settings, fill: Callable[[Runtime], None]) -> Iterator[LiveServer]:
    """The dashboard over a runtime built from `settings` and filled by `fill`, served by
    werkzeug in a thread on a free loopback port (one account per role); the worker, if one
    was started, and the runtime close with it."""
    runtime = build_runtime(settings, migrate=True)
    try:
        fill(runtime)
        with _served(runtime) as live:
            yield live
    finally:
        runtime.close()


@contextmanager
def _served(runtime: Runtime | BrowseRuntime) -> Iterator[LiveServer]:
    accounts = AccountBook(runtime.database)
    for role in ROLES:
        accounts.ensure(role, role)
    app = create_app({"TESTING": False}, runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    live = LiveServer(url=f"http://127.0.0.1:{server.port}", runtime=runtime, accounts=accounts)
    try:
        yield live
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        if live.worker is not None:
            live.worker.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The dashboard over a seeded SQLite store, served by werkzeug in a thread."""
    folder = tmp_path_factory.mktemp("live")
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )
    with serving(settings, _seed) as live:
        yield live


@pytest.fixture
def impatient_server(postgresql_url: str) -> Iterator[LiveServer]:
    """The dashboard over a small PostgreSQL store whose sessions give up on a lock after
    300 ms (a user, an account), so a held lock looks to the dashboard like an outage."""
    settings = Settings(
        db_url=f"{postgresql_url}%20-clock_timeout%3D300", secret_key=secrets.token_urlsafe(32)
    )

    def open_an_account(runtime: Runtime) -> None:
        for command, data in (
            ("RegisterUser", {"user_id": "u-out", "name": "Olga", "email": "olga@example.org"}),
            ("OpenAccount", {"account_number": "OUT-1", "owner_id": "u-out", "initial_balance": 5}),
        ):
            runtime.router.dispatch_json(command, data, metadata={"actor": "test"})

    with serving(settings, open_an_account) as live:
        yield live


@pytest.fixture
def login_as(live_server: LiveServer) -> Callable[[Any, str], None]:
    """`login_as(page, role)`: open a one-time login link for an account with `role`."""

    def do(page: Any, role: str) -> None:
        page.goto(live_server.login_url(role))
        page.wait_for_url(f"{live_server.url}/")

    return do


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """`screenshot(page, name)`: save a full-page PNG under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        # caret="initial": hiding the caret injects an inline <style> the CSP refuses
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take


@pytest.fixture
def csp_violations(page: Any) -> list[str]:
    """Console messages about Content-Security-Policy violations seen by `page`."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


@pytest.fixture
def htmx_settled() -> Callable[[Any], None]:
    """`htmx_settled(page)`: wait until htmx has finished its request, swap and settle.

    A boosted link swaps the new page in first and wires its hx- attributes up one settle
    delay later; input typed in between fires no htmx request, as for a person that fast.
    """

    def wait(page: Any) -> None:
        page.wait_for_function(
            "() => window.htmx !== undefined && document.querySelector("
            "'.htmx-request, .htmx-swapping, .htmx-settling') === null"
        )

    return wait


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script; its absence is a failure (scripts/test.sh installs it)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/browser`")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def accessibility_violations(axe_source: str) -> Callable[[Any], list[str]]:
    """`accessibility_violations(page)`: axe-core's WCAG 2.1 A and AA violations on the page
    as it is now, one line each ("rule (impact, N elements): help: first targets").

    The script reaches the page through the test browser (evaluated over the DevTools
    protocol), so the app's strict Content-Security-Policy stays as it is."""

    def check(page: Any) -> list[str]:
        page.evaluate(f"{axe_source}\n;0")
        found = page.evaluate(
            """async (tags) => {
                const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
                return result.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                    targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
                }));
            }""",
            WCAG_TAGS,
        )
        return [
            f"{v['id']} ({v['impact']}, {v['count']} elements): {v['help']}: "
            + ", ".join(v["targets"])
            for v in found
        ]

    return check
