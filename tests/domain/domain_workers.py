"""Process bodies for the multi-process domain tests (imported by spawned children by name)."""

from __future__ import annotations


def deposit_many(url: str, account_number: str, writer: int, count: int) -> list[int]:
    """Dispatch `count` deposits to one account through a router of this process's own;
    return the amounts whose dispatch succeeded."""
    from webapp.demo import build_demo_domain
    from webapp.demo.bank import DepositMoney
    from webapp.domain import ConcurrencyError
    from webapp.store import open_store

    store = open_store(url)
    registry, router = build_demo_domain(store, start_reaper=False)
    accepted = []
    try:
        for n in range(count):
            amount = writer * 1000 + n + 1
            try:
                router.dispatch(
                    DepositMoney(account_number, amount), metadata={"actor": f"w{writer}"}
                )
            except ConcurrencyError:
                continue
            accepted.append(amount)
    finally:
        store.close()
    return accepted


def deposit_with_command_id(url: str, account_number: str, command_id: str) -> bool:
    """Dispatch one deposit of 100 with `command_id` through this process's own router;
    True when this process stored it, False when it found it already stored."""
    from webapp.demo import build_demo_domain
    from webapp.demo.bank import DepositMoney
    from webapp.store import open_store

    store = open_store(url)
    registry, router = build_demo_domain(store, start_reaper=False)
    try:
        result = router.dispatch(
            DepositMoney(account_number, 100), metadata={"command_id": command_id}
        )
    finally:
        store.close()
    return not result.duplicate
