"""Errors of the ranger's routes (ProtocolError subclasses: mapped to JSON by nodekit)."""

from __future__ import annotations

from protocol.exceptions import ProtocolError


class NotFound(ProtocolError):
    """No such object (HTTP 404)."""


class AdminDisabled(ProtocolError):
    """/admin routes are served on devnet chains only, with admin_enabled (HTTP 403)."""


class AdminUnauthorized(ProtocolError):
    """/admin routes need the ranger's admin token (HTTP 401)."""

    http_status = 401
