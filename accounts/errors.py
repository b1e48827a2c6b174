from common.errors import ChatPotError


class ClientSeedInvalid(ChatPotError):
    code = "invalid"


class UsernameTaken(ChatPotError):
    code = "invalid"

    def __init__(self):
        super().__init__("That username is taken. Choose another.")
