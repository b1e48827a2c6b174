from common.errors import ChatPotError


class ResetRefused(ChatPotError):
    code = "invalid"
