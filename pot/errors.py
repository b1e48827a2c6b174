from chatpot_project.errors import ChatPotError


class ResetRefused(ChatPotError):
    code = "invalid"
