"""The root of the hierarchy and the walk over it."""

from __future__ import annotations

from typing import ClassVar


class TenantgateError(Exception):
    """Root of every error the gateway raises on purpose."""

    code: ClassVar[str] = "tenantgate_error"
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = "The gateway could not handle the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.retry_after_s = retry_after_s
        super().__init__(self.message)

    def to_body(self) -> dict[str, object]:
        """The OpenAI error object for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


def all_error_classes() -> list[type[TenantgateError]]:
    """Every error class in the hierarchy, root first (used by docs and their test)."""
    seen: list[type[TenantgateError]] = []
    pending: list[type[TenantgateError]] = [TenantgateError]
    while pending:
        cls = pending.pop(0)
        if cls not in seen:
            seen.append(cls)
            pending.extend(cls.__subclasses__())
    return seen
