"""Parsing of path and query values shared by the read routers."""

from __future__ import annotations

from nodekit.jsonutil import from_hex

from protocol.exceptions import InvalidEncoding

MAX_PAGE = 1000


def parse_hex(value: str, sizes: tuple[int, ...], what: str) -> bytes:
    data = from_hex(value, None, what)
    if len(data) not in sizes:
        raise InvalidEncoding(f"{what} must be {' or '.join(map(str, sizes))} bytes, got {len(data)}")
    return data


def page(items_len: int, start: int | None, limit: int, newest_first: bool) -> range:
    """Indexes of one page: from `start` upwards, or the newest `limit` when start is None."""
    limit = max(0, min(limit, MAX_PAGE))
    if start is None:
        first = max(0, items_len - limit) if newest_first else 0
    else:
        first = max(0, start)
    return range(first, min(items_len, first + limit))
