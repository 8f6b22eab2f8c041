"""Bearer tokens of the services' /admin routes (the devnet launcher's `<dir>/admin_token`)."""

from __future__ import annotations

import hmac


def bearer_matches(authorization: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>` names `token` (compared in constant time)."""
    given = (authorization or "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())
