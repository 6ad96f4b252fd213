"""Memory: touch 100,000 distinct aggregates once each under different lifespans.

    python bench/memory.py [--n 100000] [--plot docs/lifespans.png]

Each lifespan runs in its own fresh process (so one run's heap does not hide
another's) against its own SQLite file; the process's resident memory is sampled
every --every commands. Keep-forever without a cap grows with every aggregate;
stopping after each command stays flat; a timed lifespan (reaper) and the LRU
cap are in between: bounded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from _domain_common import ROOT, rss_mb, sqlite_url

SCENARIOS = {
    "keep-forever (no cap)": "forever",
    "keep-forever, cap 10,000": "capped",
    "keep 2 s after use (reaper)": "timed",
    "stop after each command": "stop",
}


def run_scenario(kind: str, n: int, every: int) -> dict:
    import gc

    from webapp.bootstrap import open_migrated_store
    from webapp.demo.bank import BankAccount, OpenAccount
    from webapp.domain import (
        AggregateRegistry,
        KeepFor,
        KeepForever,
        Repository,
        Router,
        StopAfterUse,
        build_router,
    )

    lifespan = {
        "forever": KeepForever(),
        "capped": KeepForever(),
        "timed": KeepFor(timedelta(seconds=2)),
        "stop": StopAfterUse(),
    }[kind]
    folder = Path(tempfile.mkdtemp(prefix="eventscope-memory-"))
    store = open_migrated_store(sqlite_url(folder, "m.db"))
    registry = AggregateRegistry(
        Repository(store), max_live=10_000 if kind == "capped" else 10**9, reap_interval=0.25
    )
    registry.start()
    router = build_router(
        registry,
        [
            Router("bench").route(
                [OpenAccount],
                to=BankAccount,
                identity="account_number",
                prefix="account-",
                lifespan=lifespan,
            )
        ],
    )
    # warm up code paths, then take the baseline
    for i in range(200):
        router.dispatch(OpenAccount(f"w{i}", "u1", 1))
    registry.clear()
    gc.collect()
    base = rss_mb()
    samples = [(0, 0.0, len(registry))]
    started = time.perf_counter()
    for i in range(1, n + 1):
        router.dispatch(OpenAccount(f"{i:07d}", f"u{i % 5000}", i % 10_000))
        if i % every == 0:
            samples.append((i, rss_mb() - base, len(registry)))
    elapsed = time.perf_counter() - started
    stats = registry.stats()
    registry.stop()
    store.close()
    return {
        "kind": kind,
        "samples": samples,
        "seconds": elapsed,
        "base_mb": base,
        "evictions": stats.evictions,
        "final_live": stats.size,
    }


def plot(results: dict[str, dict], path: Path, n: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for label, result in results.items():
        xs = [s[0] for s in result["samples"]]
        ys = [s[1] for s in result["samples"]]
        ax.plot(xs, ys, label=label, linewidth=1.8)
    ax.axhline(30, color="grey", linestyle=":", linewidth=1)
    ax.text(n * 0.01, 31, "30 MB budget", color="grey", fontsize=8)
    ax.set_xlabel("distinct aggregates touched (one command each)")
    ax.set_ylabel("process memory growth (RSS, MB)")
    ax.set_title("Aggregate lifespans keep memory bounded")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=2_000)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "lifespans.png")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.n, args.every)))
        return
    results = {}
    for label, kind in SCENARIOS.items():
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--scenario",
                kind,
                "--n",
                str(args.n),
                "--every",
                str(args.every),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[label] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[label]
        print(
            f"{label:<30} growth {r['samples'][-1][1]:7.1f} MB  live at end {r['final_live']:>7}  "
            f"evictions {r['evictions']:>7}  {args.n / r['seconds']:,.0f} commands/s",
            flush=True,
        )
    print(f"\nmemory growth (MB) every {args.every * 5} aggregates")
    header = "aggregates " + "".join(f"{label[:22]:>24}" for label in results)
    print(header)
    rows = zip(*(r["samples"] for r in results.values()), strict=True)
    for i, row in enumerate(rows):
        if i % 5 == 0 or i == args.n // args.every:
            print(f"{row[0][0]:>10} " + "".join(f"{s[1]:>24.1f}" for s in row))
    forever = results["keep-forever (no cap)"]["samples"][-1][1]
    stop = results["stop after each command"]["samples"][-1][1]
    print(
        f"\nstop-after-command growth {stop:.1f} MB (target <= 30 MB); "
        f"keep-forever {forever:.1f} MB = {forever / max(stop, 0.1):.0f}x"
    )
    plot(results, args.plot, args.n)
    print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
