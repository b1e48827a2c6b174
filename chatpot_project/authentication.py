from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from . import rawsql


class PlayerTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens, with the player read by one plain query: it runs for
    every API request. Inactive or missing players are refused, as before."""

    def get_user(self, validated_token):
        try:
            user_id = int(validated_token[jwt_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("Token contained no recognizable user identification") from None
        user = rawsql.get(get_user_model(), user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user


class PlayerTokenScheme(SimpleJWTScheme):
    """The schema describes these tokens as simplejwt's bearer tokens (jwtAuth)."""

    target_class = "chatpot_project.authentication.PlayerTokenAuthentication"
