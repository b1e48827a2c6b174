from chatpot_project.errors import ChatPotError


class ClientSeedInvalid(ChatPotError):
    code = "invalid"
