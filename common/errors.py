"""Domain errors raised by services. Each says once what it is (`code`), the HTTP status
it answers with (`status`) and anything more a client is told; every surface (the API's
exception handler, the pages) reads them from the error."""


class ChatPotError(Exception):
    """A refusal the player can understand; nothing was changed."""

    code = "invalid"
    status = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    def data(self) -> dict:
        """What a client is told: the code, the detail, and more where the error has it."""
        return {"code": self.code, "detail": self.detail}

    def headers(self) -> dict[str, str]:
        return {}


class RateLimited(ChatPotError):
    """Over one of the shared rate limits; nothing was done."""

    code = "throttled"
    status = 429

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after

    def data(self) -> dict:
        return {**super().data(), "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
