from datetime import datetime

from common.errors import ChatPotError


class InsufficientFunds(ChatPotError):
    code = "insufficient_funds"
    status = 402

    def __init__(self, *, price: int, balance: int):
        super().__init__(
            f"This costs {price} credits and you have {balance}. "
            "Claim your daily credits or wait for a grant."
        )
        self.price = price
        self.balance = balance

    def data(self) -> dict:
        return {**super().data(), "price": self.price, "balance": self.balance}


class ClaimTooEarly(ChatPotError):
    code = "claim_too_early"
    status = 429

    def __init__(self, *, available_at: datetime, retry_after: int):
        hours, rest = divmod(retry_after, 3600)
        minutes = -(-rest // 60)  # round up: never promise a claim before it is due
        if minutes == 60:
            hours, minutes = hours + 1, 0
        wait = f"{hours} h {minutes} min" if hours else f"{minutes} min"
        super().__init__(f"You claimed in the last 24 hours. Your next claim is in {wait}.")
        self.available_at = available_at
        self.retry_after = retry_after

    def data(self) -> dict:
        # Told as any other "too soon": the code a client already handles.
        return {"code": "throttled", "detail": self.detail, "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ClaimUnavailable(ChatPotError):
    code = "claim_unavailable"
    status = 409

    def __init__(self):
        super().__init__("Daily claims are switched off right now.")


class GrantInvalid(ChatPotError):
    code = "invalid"


class PotMovedOn(Exception):
    """The pot's round closed while a transaction was settling into it; roll back and
    settle again in the new round."""
