"""eventscope: an event-sourcing toolkit with a dashboard to see what it stores."""

from __future__ import annotations

__version__ = "0.1.0"
