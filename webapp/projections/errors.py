"""What the projections facade raises when a caller names or asks for the wrong thing."""

from __future__ import annotations


class UnknownProjection(KeyError):
    """No projection or process manager of that name is registered."""


class ResumeRefused(ValueError):
    """A resume that cannot be asked for: the unit is not stopped, or not at that event."""


class ControlRefused(ValueError):
    """An operator control that does not apply to the unit as it is (a reset of a process
    manager, a reset while a rebuild runs, a pause of a paused unit)."""


class InvalidPosition(ValueError):
    """A position that names no event of the log (below 0 or beyond its head)."""


class NotParked(KeyError):
    """No event is parked at that position for that unit."""
