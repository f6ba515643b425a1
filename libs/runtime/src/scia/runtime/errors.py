"""The one way a SCIA service refuses a call.

Handlers raise `Rejected(code, message)`; the server's interceptor turns it into that gRPC
status with the message, so no handler repeats the try/abort dance. The message is for the
caller: it names the problem and the limit.
"""

from __future__ import annotations

import grpc


class Rejected(Exception):
    """A call the service answers with an error status: an answer, not a crash."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
