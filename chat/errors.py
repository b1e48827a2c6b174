from common.errors import ChatPotError


class MessageInvalid(ChatPotError):
    code = "invalid"


class IdempotencyConflict(ChatPotError):
    code = "idempotency_conflict"
    status = 409

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used for a different message. "
            "Use a new key for a new message."
        )


class PotBusy(ChatPotError):
    code = "busy"
    status = 503

    def __init__(self):
        super().__init__("The pot changed hands too many times at once; send your message again.")


class PlayerUnavailable(ChatPotError):
    """The player no longer exists or was deactivated: they cannot send."""

    code = "user_inactive"

    def __init__(self):
        super().__init__("This account is not active.")
