"""Domain errors raised by services. Each surface maps them once, by `code`."""


class ChatPotError(Exception):
    """A refusal the player can understand; nothing was changed."""

    code = "invalid"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class RateLimited(ChatPotError):
    """Over one of the shared rate limits; nothing was done."""

    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
