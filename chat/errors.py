from chatpot_project.errors import ChatPotError


class MessageInvalid(ChatPotError):
    code = "invalid"


class IdempotencyConflict(ChatPotError):
    code = "idempotency_conflict"

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used for a different message. "
            "Use a new key for a new message."
        )
