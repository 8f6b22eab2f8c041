"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from nodekit.jsonutil import dumps

from ..node import Node


def get_node(request: Request) -> Node:
    return request.app.state.node


NodeDep = Annotated[Node, Depends(get_node)]


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(dumps(data), status_code=status_code, media_type="application/json")


def hx(data: bytes | None) -> str | None:
    return None if data is None else "0x" + data.hex()
