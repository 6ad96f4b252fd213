"""Field-by-field differences between two states (for the timeline and dry runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    path: str
    kind: str  # "added" | "removed" | "changed"
    before: Any = None
    after: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "before": self.before, "after": self.after}


def diff_states(
    before: dict[str, Any], after: dict[str, Any], prefix: str = ""
) -> list[FieldChange]:
    """The changes from `before` to `after`; nested dicts give dotted paths."""
    changes: list[FieldChange] = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        path = f"{prefix}{key}"
        if old is _MISSING:
            changes.append(FieldChange(path, "added", None, new))
        elif new is _MISSING:
            changes.append(FieldChange(path, "removed", old, None))
        elif isinstance(old, dict) and isinstance(new, dict):
            changes.extend(diff_states(old, new, prefix=f"{path}."))
        elif old != new:
            changes.append(FieldChange(path, "changed", old, new))
    return changes
