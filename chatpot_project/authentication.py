import functools

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from . import rawsql

# Tokens recently validated in this process. A client sends its access token with every
# request until it expires, and a token's signature and claims cannot change.
VALIDATED_TOKENS = 4096
MAX_USER_ID = 2**63 - 1  # a BigAutoField's largest key


class PlayerTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens, with the player read by one plain query: it runs for
    every API request. Inactive or missing players are refused, as before."""

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

    def token_player(self, request):
        """The player a valid bearer token names, known by key only (every other field
        deferred), or None when the request carries no bearer token; a bad token raises
        as in `authenticate`. For a service that reads the player itself and refuses one
        who is missing or inactive, as sending a message does under its lock."""
        header = self.get_header(request)
        raw_token = None if header is None else self.get_raw_token(header)
        if raw_token is None:
            return None
        return rawsql.instance(get_user_model(), ["id"], [self.token_player_id(raw_token)])

    def token_player_id(self, raw_token: bytes) -> int:
        """The player a token names, by its signature and claims alone; raises as
        `authenticate` does for a bad one."""
        return self._user_id(self.get_validated_token(raw_token))

    def get_user(self, validated_token):
        user = rawsql.get(get_user_model(), self._user_id(validated_token))
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user

    @staticmethod
    def _user_id(validated_token) -> int:
        """The token's user id, a key the user table can hold: a signed token may still
        name any number, and one beyond 64 bits must be refused, not sent to the database."""
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

    target_class = "chatpot_project.authentication.PlayerTokenAuthentication"
