"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..node import RangerNode


def get_node(request: Request) -> RangerNode:
    return request.app.state.node


NodeDep = Annotated[RangerNode, Depends(get_node)]
