"""Errors of the service loops and of calls between services (not protocol rules).

A loop sorts what goes wrong into three kinds (the OP Stack's op-service idea):

- `TemporaryError`: a peer or L1 timed out or is restarting; log it, the next tick retries.
- `ResetError`: L1 disagrees with what this node built on (a reorg, a rollback after a fraud
  proof); the job resyncs from L1.
- anything else: a bug; the loop logs it and crashes loudly.

`RemoteRejected` is another service's definite "no" (an HTTP 4xx with its
`{"error", "detail"}` body): retrying the same request would give the same answer.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors below."""


class TemporaryError(ServiceError):
    """Worth retrying later: a timeout, a refused connection, a 5xx, a busy peer."""


class ResetError(ServiceError):
    """This node's view diverged from L1; the job must resync from L1 before going on."""


class RemoteRejected(ServiceError):
    """A service answered 4xx: the request is wrong or refused (e.g. NonceMismatch)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        """The HTTP status code (400-499)."""
        self.error = error
        """The machine-readable reason, e.g. "NonceMismatch" (the exception class name)."""
        self.detail = detail
        """The human-readable message."""
