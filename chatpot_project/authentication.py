from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings


class PlayerTokenAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens, with the player read by one plain query: it runs for
    every API request. Inactive or missing players are refused, as before."""

    def get_user(self, validated_token):
        try:
            user_id = int(validated_token[jwt_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("Token contained no recognizable user identification") from None
        User = get_user_model()
        table = User._meta.db_table
        found = list(User.objects.raw(f"SELECT * FROM {table} WHERE id = %s", [user_id]))  # noqa: S608
        if not found:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not found[0].is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return found[0]


class PlayerTokenScheme(SimpleJWTScheme):
    """The schema describes these tokens as simplejwt's bearer tokens (jwtAuth)."""

    target_class = "chatpot_project.authentication.PlayerTokenAuthentication"
