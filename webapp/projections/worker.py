"""The worker: runs the projections, process managers and the timeout loop in threads.

Projections run in one thread through a `ProjectionGroup` (one read of the log
feeds them all); each process manager and the timer have a thread of their own.
A unit runs only while this worker holds its leadership (advisory lock on
PostgreSQL, lease row on SQLite); the others retry every second, so when a
worker dies another takes its units over within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from webapp.projections.controls import controls_for_round
from webapp.projections.group import ProjectionGroup
from webapp.projections.leadership import Leadership, leadership_for, new_worker_id
from webapp.projections.process_runner import ProcessManagerRunner
from webapp.projections.runner import ProjectionRunner
from webapp.projections.service import Projections
from webapp.projections.timeouts import TimeoutRunner
from webapp.projections.unit import LostLeadership

log = logging.getLogger(__name__)

STEP_GAP = 0.1
"""Seconds from the start of one round of a busy loop to the start of the next, at least,
unless someone in this process waits for the read models (`Projections.hurry`)."""
BUSY_RATE = 50.0
"""Events per second appended to the log from which a loop counts as busy and is paced."""


class Pace:
    """Rounds of a busy loop at most every `gap` seconds, or at once when woken.

    Each round costs the same statements and transactions whether it finds one event or
    fifty: the operators' controls, the head, a read of the log, the transaction. Woken by
    every append, a unit under a steady stream of commands would run a round per event;
    paced, a round takes whatever gathered since the last one. Measured in one process at
    100 commands/s, the background work per command cost 6.5 ms of CPU unpaced and about
    2 ms paced by 100 ms on PostgreSQL, 8.3 and about 1.6 ms on SQLite (docs/performance.md,
    "Throughput, ninth pass").

    Only a busy loop is paced: one that saw the log grow by `busy_rate` events a second or
    more over the last second (`observe`). A quiet system, a support agent's single command
    or a test's, is answered at once, as is the first append after a round that found
    nothing (`rested`). A round that takes longer than the gap (a catch-up page) is not
    slowed, and a strong-consistency wait in this process wakes the loop (`wake`).
    """

    def __init__(
        self,
        gap: float,
        stop: threading.Event,
        wake: threading.Event | None = None,
        *,
        busy_rate: float = BUSY_RATE,
    ) -> None:
        self.gap = gap
        self.busy_rate = busy_rate
        self.busy = busy_rate <= 0
        self._stop = stop
        self._wake = wake or stop
        self._last = -gap
        self._window: tuple[float, int] | None = None

    def observe(self, head: int) -> None:
        """The head of the log as a round saw it: once a second, whether the loop is busy."""
        now = time.monotonic()
        if self._window is None:
            self._window = (now, head)
            return
        since, mark = self._window
        if now - since >= 1.0:
            self.busy = self.busy_rate <= 0 or (head - mark) / (now - since) >= self.busy_rate
            self._window = (now, head)

    def wait_turn(self) -> None:
        wait = self._last + self.gap - time.monotonic()
        if self.busy and wait > 0 and not self._stop.is_set():
            self._wake.wait(wait)
        if self._wake is not self._stop:
            self._wake.clear()
        self._last = time.monotonic()

    def rested(self) -> None:
        """The round found nothing to do: the next one, when woken, starts at once."""
        self._last = -self.gap


class Worker:
    """Runs units until `stop()`; `start()` returns at once, `run()` blocks."""

    def __init__(
        self,
        projections: Projections,
        *,
        worker_id: str | None = None,
        idle_wait: float = 0.5,
        acquire_every: float = 1.0,
        names: list[str] | None = None,
        step_gap: float = STEP_GAP,
        busy_rate: float = BUSY_RATE,
    ) -> None:
        self.projections = projections
        self.step_gap = step_gap
        self.busy_rate = busy_rate
        self.worker_id = worker_id or new_worker_id()
        self.idle_wait = idle_wait
        self.acquire_every = acquire_every
        units = projections.units(self.worker_id, names=names)
        self.projection_runners = [u for u in units if isinstance(u, ProjectionRunner)]
        self.units: list[ProcessManagerRunner | TimeoutRunner] = [
            u for u in units if not isinstance(u, ProjectionRunner)
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wakes: list[threading.Event] = []
        self.active: dict[str, bool] = {u.name: False for u in units}

    def start(self) -> Worker:
        targets: list[tuple[str, Callable[..., None], tuple[object, ...]]] = []
        if self.projection_runners:
            targets.append(("projections", self._run_projections, ()))
        targets += [(f"unit-{u.name}", self._run_unit, (u,)) for u in self.units]
        for name, target, args in targets:
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def run(self) -> None:
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for wake in self._wakes:
            wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = []
        for wake in self._wakes:
            self.projections.forget_waker(wake)
        self._wakes = []

    def _pace(self) -> Pace:
        """A pace for one of this worker's loops, woken by `Projections.hurry`."""
        wake = self.projections.waker()
        self._wakes.append(wake)
        if self._stop.is_set():
            wake.set()
        return Pace(self.step_gap, self._stop, wake, busy_rate=self.busy_rate)

    # --- projections: one thread, one read of the log for all of them ------------------

    def _run_projections(self) -> None:
        engine = self.projections.engine
        runners = self.projection_runners
        leaderships: dict[str, Leadership] = {}
        for runner in runners:
            runner.leadership = leaderships[runner.name] = leadership_for(
                engine, runner.name, self.worker_id
            )
        group = ProjectionGroup(self.projections.store, runners, page_size=runners[0].batch_size)
        held: dict[str, bool] = {r.name: False for r in runners}
        next_try = 0.0
        pace = self._pace()
        try:
            while not self._stop.is_set():
                pace.wait_turn()
                now = time.monotonic()
                if now >= next_try:
                    next_try = now + self.acquire_every
                    for runner in runners:
                        if not held[runner.name]:
                            held[runner.name] = self._acquire(runner)
                mine = [r for r in runners if held[r.name]]
                for runner in mine:
                    if not leaderships[runner.name].still_held():
                        self._lose(runner, held)
                for runner in runners:
                    if held[runner.name] and runner.stopped:
                        runner.resume_if_requested()
                asked = controls_for_round(engine)
                mine = [
                    r
                    for r in runners
                    if held[r.name] and not r.stopped and not r.check_paused(asked.paused)
                ]
                for runner in runners:
                    if held[runner.name] and runner.paused and not runner.stopped:
                        runner.write_status()  # its heartbeat: paused, not gone
                try:
                    for runner in mine:
                        runner.retry_parked(asked.retries.get(runner.name, []))
                except LostLeadership as lost:
                    for runner in mine:
                        if runner.name == str(lost):
                            self._lose(runner, held)
                    continue
                if not mine:
                    for runner in runners:
                        if held[runner.name]:
                            runner.write_status()
                    self._stop.wait(self.acquire_every)
                    continue
                try:
                    moved = group.step(mine)
                    pace.observe(group.head)
                except LostLeadership as lost:
                    for runner in mine:
                        if runner.name == str(lost):
                            self._lose(runner, held)
                    continue
                except Exception:  # noqa: BLE001 - keep going; reload the projections
                    log.exception("projection group step failed; reloading")
                    self._stop.wait(1.0)
                    for runner in mine:
                        runner.load()
                    continue
                for runner in mine:
                    runner.keep_milestones()
                if not moved:
                    pace.rested()
                    fed = [r.position for r in mine if not r.live_frozen]
                    store = self.projections.store
                    low = min(fed) if fed else store.head_position()
                    store.wait_for_events(after=low, timeout=self.idle_wait)
        finally:
            for runner in runners:
                if held[runner.name]:
                    if not runner.stopped:
                        runner.progress.state = "idle"
                    runner.write_status(force=True)
                leaderships[runner.name].release()
                self.active[runner.name] = False

    def _acquire(self, runner: ProjectionRunner) -> bool:
        leadership = runner.leadership
        assert leadership is not None
        try:
            got = leadership.try_acquire()
        except Exception:  # noqa: BLE001 - database away: try again shortly
            log.warning("cannot try leadership of %s", runner.name, exc_info=True)
            return False
        if got:
            try:
                runner.load()
            except Exception:  # noqa: BLE001
                log.exception("cannot load projection %s", runner.name)
                leadership.release()
                return False
            log.info("worker %s runs %s", self.worker_id, runner.name)
        self.active[runner.name] = got
        return got

    def _lose(self, runner: ProjectionRunner, held: dict[str, bool]) -> None:
        log.warning("worker %s lost %s", self.worker_id, runner.name)
        held[runner.name] = False
        self.active[runner.name] = False
        if runner.leadership is not None:
            runner.leadership.release()

    # --- process managers and the timer: a thread each ---------------------------------

    def _run_unit(self, unit: ProcessManagerRunner | TimeoutRunner) -> None:
        engine = self.projections.engine
        leadership = leadership_for(engine, unit.name, self.worker_id)
        unit.leadership = leadership
        pace = self._pace()
        try:
            while not self._stop.is_set():
                try:
                    acquired = leadership.try_acquire()
                except Exception:  # noqa: BLE001 - database away: try again shortly
                    log.warning("unit %s: cannot try leadership", unit.name, exc_info=True)
                    acquired = False
                if not acquired:
                    self.active[unit.name] = False
                    self._stop.wait(self.acquire_every)
                    continue
                self.active[unit.name] = True
                log.info("worker %s runs %s", self.worker_id, unit.name)
                try:
                    self._drive(unit, leadership, pace)
                except LostLeadership:
                    log.warning("worker %s lost %s", self.worker_id, unit.name)
                except Exception:  # noqa: BLE001 - keep the unit alive; reload and go on
                    log.exception("unit %s failed; restarting it", unit.name)
                    self._stop.wait(1.0)
                self.active[unit.name] = False
        finally:
            self.active[unit.name] = False
            leadership.release()

    def _drive(
        self, unit: ProcessManagerRunner | TimeoutRunner, leadership: Leadership, pace: Pace
    ) -> None:
        unit.load()
        store = self.projections.store
        while not self._stop.is_set():
            pace.wait_turn()
            if not leadership.still_held():
                raise LostLeadership(unit.name)
            moved = unit.step()
            if isinstance(unit, ProcessManagerRunner):  # a timer's head counts timeouts
                pace.observe(unit.progress.head)
            if unit.paused and not unit.stopped:
                unit.write_status()
                self._stop.wait(min(self.acquire_every, 0.25))
            elif unit.stopped:
                unit.write_status(force=True)
                if not unit.resume_if_requested():
                    self._stop.wait(self.acquire_every)
            elif not moved:
                pace.rested()
                if isinstance(unit, TimeoutRunner):
                    self._stop.wait(0.2)
                else:
                    store.wait_for_events(after=unit.position or 0, timeout=self.idle_wait)
        if not unit.stopped:
            unit.progress.state = "idle"
        unit.write_status(force=True)


def start_in_process(
    projections: Projections,
    *,
    worker_id: str | None = None,
    idle_wait: float = 0.5,
    acquire_every: float = 1.0,
    names: list[str] | None = None,
) -> Worker:
    """Run the worker in threads of this process (`eventscope demo/serve`); `.stop()` ends it."""
    return Worker(
        projections,
        worker_id=worker_id,
        idle_wait=idle_wait,
        acquire_every=acquire_every,
        names=names,
    ).start()
