"""Run the `seqnet` CLI as a user would: a subprocess, its stdout, stderr and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def seqnet_argv() -> list[str]:
    script = Path(sys.executable).parent / "seqnet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "client.cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def seqnet(*args: str, cwd: Path | None = None, timeout: float = 300, check: bool = True) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQNET_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run([*seqnet_argv(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"seqnet {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}")
    return result
