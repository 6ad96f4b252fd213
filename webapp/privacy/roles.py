"""Who may see personal data, who may export or forget a subject, and who may re-register one."""

from __future__ import annotations

from enum import StrEnum

from webapp.privacy.errors import AccessDenied


class Role(StrEnum):
    VIEWER = "viewer"
    SUPPORT = "support"
    ADMIN = "admin"


def as_role(role: str | Role) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        msg = f"unknown role {role!r}; expected one of {', '.join(r.value for r in Role)}"
        raise AccessDenied(msg) from None


def sees_personal_data(role: str | Role) -> bool:
    """Support and admin see personal fields in clear (and are logged); viewers see them masked."""
    return as_role(role) in (Role.SUPPORT, Role.ADMIN)


def check_may_handle_subjects(role: str | Role, action: str) -> None:
    """Only support and admin may export or forget a subject."""
    if not sees_personal_data(role):
        msg = f"role {str(role)!r} may not {action} a data subject (support or admin only)"
        raise AccessDenied(msg)


def check_may_reregister(role: str | Role) -> None:
    """Only an admin may let a forgotten subject hold personal data again: the support staff
    who forget people do not also undo a forget's effect on new data."""
    if as_role(role) is not Role.ADMIN:
        msg = f"role {str(role)!r} may not re-register a data subject (admin only)"
        raise AccessDenied(msg)
