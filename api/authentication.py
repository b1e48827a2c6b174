import functools

from django.utils.functional import cached_property
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

# Tokens recently validated in this process. A client sends its access token with every
# request until it expires, and a token's signature and claims cannot change.
VALIDATED_TOKENS = 4096
MAX_USER_ID = 2**63 - 1  # a BigAutoField's largest key


class PlayerTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens, each validated once per process (then only checked for
    expiry), and the user it names read by simplejwt itself, with its own checks (the user
    exists and is active; CHECK_REVOKE_TOKEN when set), once the id is known to be a key
    the user table can hold.

    `stateless=True` is for the send: the player is then known by the token alone
    (`TokenPlayer`, simplejwt's stateless user), because the send reads and checks them
    under its own lock and refuses one who is gone or inactive. Reading them here too cost
    6 % of the sends a second at 32 connections (docs/PERFORMANCE.md). With
    CHECK_REVOKE_TOKEN set, which needs the user's row, the user is read all the same."""

    def __init__(self, *args, stateless: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.stateless = stateless

    def get_validated_token(self, raw_token: bytes) -> Token:
        """simplejwt's validation, done once per token: a token seen before is only
        checked again for expiry. Invalid tokens are never kept, so each is refused
        with simplejwt's own error, as is one that expired since."""
        token = _validated(raw_token)
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            return super().get_validated_token(raw_token)  # refuses it, in simplejwt's words
        return token

    def get_user(self, validated_token):
        player_id(validated_token)
        if self.stateless and not jwt_settings.CHECK_REVOKE_TOKEN:
            return TokenPlayer(validated_token)
        return super().get_user(validated_token)

    def token_player_id(self, raw_token: bytes) -> int:
        """The player a token names, by its signature and claims alone; raises as
        `authenticate` does for a bad one."""
        return player_id(self.get_validated_token(raw_token))


class TokenPlayer(TokenUser):
    """A player as a token names them: their key, an integer the user table can hold."""

    @cached_property
    def id(self) -> int:
        return player_id(self.token)


def player_id(validated_token) -> int:
    """The token's user id, a key the user table can hold: a signed token may still name
    any number, and one beyond 64 bits must be refused, not sent to the database."""
    try:
        user_id = int(validated_token[jwt_settings.USER_ID_CLAIM])
    except (KeyError, TypeError, ValueError):
        user_id = None
    if user_id is None or not 0 < user_id <= MAX_USER_ID:
        raise InvalidToken("Token contained no recognizable user identification")
    return user_id


@functools.lru_cache(maxsize=VALIDATED_TOKENS)
def _validated(raw_token: bytes) -> Token:
    # Raises for a token that does not validate; lru_cache keeps only what returns.
    return JWTAuthentication.get_validated_token(JWTAuthentication(), raw_token)


class PlayerTokenScheme(SimpleJWTScheme):
    """The schema describes these tokens as simplejwt's bearer tokens (jwtAuth)."""

    target_class = "api.authentication.PlayerTokenAuthentication"
