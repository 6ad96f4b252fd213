"""Serving under load: `eventscope serve` against a bare Flask app under the same gunicorn settings.

    python bench/serve.py [--backend sqlite|postgresql|all] [--duration S] [--clients N]
                          [--rounds R] [--profile S]

Per backend: a fresh store (a temporary SQLite file, or a fresh PostgreSQL schema) seeded
with the demo history (`eventscope seed`), an admin API token (`eventscope token create`),
then `eventscope serve` (gunicorn, 2 workers x 4 threads, the in-process worker) and the
bare app of `_serve_baseline.py` (gunicorn with the same settings, replies of the same
sizes), and a second `eventscope serve` without its page cache ("es uncached": every read
decoded afresh, as a page read once is). One client drives them all: N connections kept
alive (asyncio, one process), no think time. Workloads: reads only (`/api/events?limit=50`
and one stream's events, alternately) and 80/20 reads/`DepositMoney` commands. Rounds
interleave the servers; each figure is the median of the rounds. Two floors run beside
the bare app: one page of events read by the raw driver and encoded as Flask does, and the
same encoded by orjson (as eventscope's API encodes); in the mix, that floor's commands
read the account stream's version and append one event at the next in one transaction by
the raw driver, to a bare table with only the unique (stream, version) index: the floor of
a command's latency under the same load. `--profile S` adds S seconds of reads
under py-spy over both eventscope workers and prints where their time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_common import PG_BASE_URL, postgresql_schema  # noqa: E402

HERE = Path(__file__).resolve().parent
SERVER_OPTIONS = ["--workers", "2"]
"""`eventscope serve` runs gthread workers with 4 threads each; the baseline gets the same."""
BASELINE_ARGS = ["-w", "2", "-k", "gthread", "--threads", "4", "--timeout", "60"]
BASELINE_ARGS += ["--reuse-port", "--access-logfile", "-"]
UNCACHED = "es uncached"
"""`eventscope serve` without its page cache (EVENTSCOPE_PAGE_CACHE_MB=0): every read decoded."""
READS = ("events", "stream")
ORJSON_FLOOR = "floor orjson"
ORJSON_PATH = "/floor/events-orjson"
SERVERS = ("eventscope", UNCACHED, "bare flask", "floor", ORJSON_FLOOR)
MIX = ("events", "stream", "events", "stream", "command")
PROFILED = {
    "AccessLog.record (access-log write in the request)": ("AccessLog.record", "access_log.py"),
    "access-log batches (background writer)": ("BatchWriter._write_pending", "access_batches"),
    "token -> account lookup": ("ApiTokens.account_for", "api_tokens.py"),
    "identity and role checks (before_request)": ("Flask.preprocess_request", "flask"),
    "the view (queries, privacy, JSON shapes)": ("Flask.dispatch_request", "flask"),
    "  reading the store (SQL + rows)": ("EventStore._fetch", "event_store.py"),
    "  personal data: decode + log (view_events)": ("view_events", "viewing.py"),
    "  JSON encoding (jsonify)": ("DefaultJSONProvider.response", "flask"),
    "after_request hooks (headers, session)": ("Flask.process_response", "flask"),
    "response to the socket (gunicorn write)": ("write", "gunicorn/util.py"),
    "gunicorn access log line": ("PathOnlyGunicornLogger.access", "request_log.py"),
    "request parsing (gunicorn)": ("Request.__init__", "gunicorn/http"),
    "background threads (worker, index builder, log writer)": ("Thread.run", "threading.py"),
}
IDLE_LEAVES = {
    "_worker",
    "Condition.wait",
    "EpollSelector.select",
    "SQLiteEventStore.wait_for_events",
    "PostgresEventStore.wait_for_events",
    "Event.wait",
    "sleep",
}
"""Leaf frames of threads that wait for work (py-spy cannot always tell them from busy)."""


@dataclass
class Result:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    def count(self, kinds: tuple[str, ...]) -> int:
        return sum(len(self.latencies.get(k, [])) for k in kinds)

    def rate(self, kinds: tuple[str, ...]) -> float:
        return self.count(kinds) / self.seconds

    def percentile(self, kinds: tuple[str, ...], share: float) -> float:
        values = sorted(v for k in kinds for v in self.latencies.get(k, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(share * len(values)))] * 1000


# --- stores and servers ---------------------------------------------------------------------


@contextlib.contextmanager
def store(backend: str) -> Iterator[tuple[str, Path]]:
    """A fresh, empty store URL and a working folder for the server's files."""
    with tempfile.TemporaryDirectory(prefix="eventscope-serve-") as folder:
        work = Path(folder)
        if backend == "sqlite":
            yield f"sqlite:///{work / 'store.db'}", work
        else:
            with postgresql_schema(PG_BASE_URL) as (url, _):
                yield url, work


def eventscope(db_url: str, work: Path, *args: str) -> str:
    """Run one `eventscope` command on the store; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "--db", db_url, *args],
        cwd=work,
        env=server_env(work),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"eventscope {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def server_env(work: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), **extra)
    env.pop("EVENTSCOPE_DB", None)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], work: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """Start a server process (its own process group) and wait until it answers."""
    log = open(work / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {(work / f'server-{port}.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise SystemExit("server did not answer within 60 s")


def start_eventscope(db_url: str, work: Path, **env: str) -> tuple[subprocess.Popen, int]:
    """`eventscope serve` on the store, on a free port, with `env` added; it and its port."""
    port = free_port()
    command = [sys.executable, "-m", "webapp", "--db", db_url, "serve", "--port", str(port)]
    return start(command + SERVER_OPTIONS, work, server_env(work, **env), port), port


def stop(process: subprocess.Popen) -> None:
    """Stop a server cleanly (SIGTERM to gunicorn's master), or kill it after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def http(port: int, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


# --- the client --------------------------------------------------------------------------------


def request_bytes(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


async def one_client(
    port: int,
    plan: list[tuple[str, bytes]],
    offset: int,
    measure_from: float,
    until: float,
    result: Result,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = offset
    try:
        while True:
            kind, raw = plan[index % len(plan)]
            index += 1
            started = time.perf_counter()
            if started >= until:
                return
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if started < measure_from:
                continue
            if status[:1] != b"2":
                result.errors[f"{kind} {status.decode()}"] += 1
                continue
            result.latencies.setdefault(kind, []).append(time.perf_counter() - started)
    finally:
        writer.close()


async def drive_async(
    port: int, plans: list[list[tuple[str, bytes]]], clients: int, warmup: float, seconds: float
) -> Result:
    now = time.perf_counter()
    result = Result(seconds)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(
        *(
            one_client(port, plans[i % len(plans)], i, now + warmup, now + warmup + seconds, result)
            for i in range(clients)
        )
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)
    return result


def drive(
    port: int,
    plans: list[list[tuple[str, bytes]]],
    clients: int,
    warmup: float,
    seconds: float,
    pid: int | None = None,
) -> Result:
    """Run the client; with `pid`, also the CPU seconds that server's processes used."""
    before = process_tree_cpu(pid) if pid else 0.0
    result = asyncio.run(drive_async(port, plans, clients, warmup, seconds))
    if pid:
        result.server_cpu = (process_tree_cpu(pid) - before) * seconds / (seconds + warmup)
    return result


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` and its children, from /proc."""
    total, pending = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


# --- one backend -------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    plans: dict[str, list[list[tuple[str, bytes]]]]
    pid: int


def plans_for(token: str, stream_path: str, accounts: list[str]) -> dict[str, list[list]]:
    """Per client, its cycle of requests: reads only, and 80/20 reads/commands (each client
    deposits into its own account, round robin over the seeded ones)."""
    events = ("events", request_bytes("GET", "/api/events?limit=50", token))
    stream = ("stream", request_bytes("GET", stream_path, token))
    reads = [[events, stream] if i % 2 == 0 else [stream, events] for i in range(len(accounts))]
    return {"reads": reads, "mix": mixes_for(token, events, stream, accounts, "/api/commands")}


def mixes_for(
    token: str,
    events: tuple[str, bytes],
    stream: tuple[str, bytes],
    accounts: list[str],
    command_path: str,
) -> list[list[tuple[str, bytes]]]:
    """Per account, the 80/20 cycle (MIX) of the two reads and a deposit into that account
    posted to `command_path`."""
    mixes = []
    for account in accounts:
        body = {"command": "DepositMoney", "data": {"account_number": account, "amount": 1}}
        command = ("command", request_bytes("POST", command_path, token, body))
        cycle = {"events": events, "stream": stream, "command": command}
        mixes.append([cycle[kind] for kind in MIX])
    return mixes


def floor_plans(
    token: str, path: str = "/floor/events", accounts: list[str] | None = None
) -> dict[str, list[list]]:
    """Reads only, from a floor route: a page of events read by the raw driver; with
    `accounts`, also the 80/20 mix of those reads and the floor's commands."""
    floor = request_bytes("GET", path, token)
    plans: dict[str, list[list]] = {"reads": [[("events", floor), ("stream", floor)]]}
    if accounts:
        plans["mix"] = mixes_for(
            token, ("events", floor), ("stream", floor), accounts, "/floor/command"
        )
    return plans


FLOOR_TABLE = {
    "sqlite": "position INTEGER PRIMARY KEY",
    "postgresql": "position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}


def floor_table_sql(backend: str) -> str:
    """The table the floor's commands append to (`/floor/command` of `_serve_baseline.py`):
    the columns of an event, one unique index."""
    return (
        f"CREATE TABLE floor_events ({FLOOR_TABLE[backend]}, stream_id TEXT NOT NULL, "
        "stream_version BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, "
        "data TEXT NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (stream_id, stream_version))"
    )


def make_floor_table(db_url: str, backend: str) -> None:
    """The floor commands' bare event table, in the store's database (and schema)."""
    import sqlalchemy as sa  # noqa: PLC0415 - only the floor needs it here

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(floor_table_sql(backend))
    finally:
        engine.dispose()


def seed(db_url: str, work: Path) -> str:
    """Seed the store with the demo history; an API token of an admin account."""
    eventscope(db_url, work, "seed")
    return eventscope(db_url, work, "token", "create", "bench", "--role", "admin").strip()


def discover(port: int, token: str, clients: int) -> tuple[str, list[str]]:
    """A stream's events path (the longest account stream) and up to `clients` account numbers."""
    _, raw = http(port, "/api/streams?prefix=account-&limit=200", token)
    streams = json.loads(raw)["streams"]
    if not streams:
        raise SystemExit("the seeded store holds no account streams")
    longest = max(streams, key=lambda s: s["version"])
    accounts = []
    for info in streams[:clients]:
        _, raw = http(port, f"/api/streams/{info['stream_id']}/state", token)
        state = json.loads(raw)["state"]
        if state.get("status", "open") == "open" and state.get("account_number"):
            accounts.append(state["account_number"])
    stream_path = f"/api/streams/{longest['stream_id']}/events?limit=50"
    return stream_path, accounts or [streams[0]["stream_id"].removeprefix("account-")]


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {backend}: seeding a fresh store ...", flush=True)
    with store(backend) as (db_url, work):
        token = seed(db_url, work)
        base_port = free_port()
        es, es_port = start_eventscope(db_url, work)
        base = uncached = None
        try:
            uncached, uncached_port = start_eventscope(db_url, work, EVENTSCOPE_PAGE_CACHE_MB="0")
            stream_path, accounts = discover(es_port, token, args.clients)
            _, read_reply = http(es_port, "/api/events?limit=50", token)
            body = {"command": "DepositMoney", "data": {"account_number": accounts[0], "amount": 1}}
            _, command_reply = http(es_port, "/api/commands", token, body)
            (work / "read.json").write_bytes(read_reply)
            (work / "command.json").write_bytes(command_reply)
            print(
                f"   reply sizes: /api/events?limit=50 {len(read_reply):,} bytes, "
                f"{stream_path.split('?')[0]} {len(http(es_port, stream_path, token)[1]):,} "
                f"bytes, command {len(command_reply):,} bytes; {len(accounts)} accounts",
                flush=True,
            )
            base_env = server_env(
                work,
                BENCH_READ_REPLY=str(work / "read.json"),
                BENCH_COMMAND_REPLY=str(work / "command.json"),
                BENCH_FLOOR_DB=db_url,
            )
            make_floor_table(db_url, backend)
            base_cmd = [sys.executable, "-m", "gunicorn", "--chdir", str(HERE), *BASELINE_ARGS]
            base_cmd += ["-b", f"127.0.0.1:{base_port}", "_serve_baseline:app"]
            base = start(base_cmd, work, base_env, base_port)
            plans = plans_for(token, stream_path, accounts)
            targets = [
                Target("eventscope", es_port, plans, es.pid),
                Target(UNCACHED, uncached_port, plans, uncached.pid),
                Target("bare flask", base_port, plans, base.pid),
                Target("floor", base_port, floor_plans(token), base.pid),
                Target(
                    ORJSON_FLOOR, base_port, floor_plans(token, ORJSON_PATH, accounts), base.pid
                ),
            ]
            results = rounds(targets, args)
            if args.profile:
                profile(es, es_port, plans[args.profile_workload], args, work)
        finally:
            stop(es)
            for other in (uncached, base):
                if other is not None:
                    stop(other)
    return results


def rounds(targets: list[Target], args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved rounds: each round runs every workload on every target."""
    results: dict[tuple[str, str], list[Result]] = {}
    for number in range(args.rounds):
        for workload in ("reads", "mix"):
            order = targets if number % 2 == 0 else list(reversed(targets))
            for target in order:
                if workload not in target.plans:
                    continue
                result = drive(
                    target.port,
                    target.plans[workload],
                    args.clients,
                    args.warmup,
                    args.duration,
                    target.pid,
                )
                results.setdefault((target.name, workload), []).append(result)
                print(f"   round {number + 1} {workload:<5} {target.name:<12} {summary(result)}")
    return results


def summary(result: Result) -> str:
    kinds = tuple(result.latencies)
    text = (
        f"{result.rate(kinds):7.0f} req/s, server CPU {server_cpu_per_request(result):5.0f} us/req"
    )
    text += f" ({result.server_cpu / result.seconds:4.0%} of a core)"
    if result.errors:
        text += f"  errors {dict(result.errors)}"
    return text


def median(results: list[Result], how: str, kinds: tuple[str, ...]) -> float:
    if how == "rate":
        return statistics.median(r.rate(kinds) for r in results)
    return statistics.median(r.percentile(kinds, float(how)) for r in results)


def report(backend: str, results: dict[Any, list[Result]], clients: int) -> None:
    print(
        f"\n{backend}: {clients} clients, median of {len(results[('eventscope', 'reads')])} rounds"
    )
    header = f"  {'workload':<28}{'server':<14}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}"
    print(header)
    rows = [
        ("reads only: all reads", "reads", READS),
        ("80/20 mix: reads", "mix", READS),
        ("80/20 mix: commands", "mix", ("command",)),
        ("80/20 mix: all requests", "mix", (*READS, "command")),
    ]
    for label, workload, kinds in rows:
        base_rate = median(results[("bare flask", workload)], "rate", kinds)
        for server in SERVERS:
            if (server, workload) not in results:
                continue
            runs = results[(server, workload)]
            rate = median(runs, "rate", kinds)
            ratio = f"{rate / base_rate:7.2f}x" if server != "bare flask" and base_rate else ""
            print(
                f"  {label:<28}{server:<14}{rate:8.0f}{median(runs, '0.5', kinds):9.1f}"
                f"{median(runs, '0.99', kinds):9.1f}{ratio:>8}"
            )
    errors = Counter()
    for runs in results.values():
        for run in runs:
            errors.update(run.errors)
    if errors:
        print(f"  non-2xx replies (not timed): {dict(errors)}")
    cpu = [
        r.client_cpu / max(1, r.count(tuple(r.latencies))) * 1e6
        for runs in results.values()
        for r in runs
    ]
    print(f"  client CPU per request: {statistics.median(cpu):.0f} us (the client's own cost)")
    for server in SERVERS:
        for workload in ("reads", "mix"):
            if (server, workload) not in results:
                continue
            runs = results[(server, workload)]
            used = statistics.median(server_cpu_per_request(r) for r in runs)
            share = statistics.median(r.server_cpu / r.seconds for r in runs)
            print(
                f"  server CPU per request, {server}, {workload}: {used:.0f} us "
                f"({share:.0%} of one core)"
            )


def server_cpu_per_request(result: Result) -> float:
    return result.server_cpu / max(1, result.count(tuple(result.latencies))) * 1e6


# --- profile -----------------------------------------------------------------------------------


def profile(
    server: subprocess.Popen, port: int, plans: list[list], args: argparse.Namespace, work: Path
) -> None:
    """A workload under py-spy over every eventscope worker; inclusive shares of named parts."""
    if shutil.which("py-spy") is None:
        print("   py-spy is not installed: `pip install py-spy` to profile")
        return
    out = work / "profile.txt"
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(server.pid), "--subprocesses", "--format", "raw"]
        + ["--rate", "200", "--duration", str(int(args.profile)), "--output", str(out)]
        + (["--gil"] if args.gil else []),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    result = drive(port, plans, args.clients, 0.0, args.profile)
    spy.wait()
    if args.profile_out:
        shutil.copy(out, args.profile_out)
    rate = result.rate(tuple(result.latencies))
    print(f"\n   profile: {args.profile_workload} under py-spy, {rate:.0f} req/s while sampled")
    print_shares(out)


def print_shares(path: Path) -> None:
    """Inclusive shares of `PROFILED` parts over the workers' busy samples."""
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not (frames and count.isdigit()):
            continue
        names = frames.split(";")
        if names[-1].split(" (")[0] in IDLE_LEAVES:
            continue
        stacks.append((names, int(count)))
    total = sum(n for _, n in stacks) or 1
    print(f"   {total:,} busy samples in the server's processes; inclusive share of:")
    for label, (name, file_part) in PROFILED.items():
        if name == "Thread.run":  # threads that are not gunicorn's request threads
            hits = sum(n for f, n in stacks if any(x.startswith("Thread.run") for x in f))
            hits -= sum(n for f, n in stacks if any(x.startswith("ThreadWorker.handle") for x in f))
        else:
            hits = sum(n for f, n in stacks if any(_is(frame, name, file_part) for frame in f))
        print(f"     {hits / total:6.1%}  {label}")
    own: Counter[str] = Counter()
    for frames, n in stacks:
        own[frames[-1].split(":")[0]] += n
    print("   top functions by own time:")
    for name, n in own.most_common(10):
        print(f"     {n / total:6.1%}  {name})")


def _is(frame: str, name: str, file_part: str) -> bool:
    return frame.startswith(f"{name} (") and file_part in frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=float, default=0.0, help="seconds under py-spy")
    parser.add_argument("--profile-out", help="keep py-spy's raw stacks in this file")
    parser.add_argument("--profile-workload", choices=("reads", "mix"), default="reads")
    parser.add_argument(
        "--gil", action="store_true", help="profile only threads holding the GIL (CPU time)"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"bench/serve.py {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs"
    )
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    for backend in backends:
        results = run_backend(backend, args)
        report(backend, results, args.clients)


if __name__ == "__main__":
    main()
