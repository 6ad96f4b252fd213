"""What the projections facade raises when a caller names or asks for the wrong thing."""

from __future__ import annotations


class UnknownProjection(KeyError):
    """No projection or process manager of that name is registered."""


class ResumeRefused(ValueError):
    """A resume that cannot be asked for: the unit is not stopped, or not at that event."""
