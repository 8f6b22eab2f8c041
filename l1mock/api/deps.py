"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..node import L1Node


def get_node(request: Request) -> L1Node:
    return request.app.state.node


NodeDep = Annotated[L1Node, Depends(get_node)]
