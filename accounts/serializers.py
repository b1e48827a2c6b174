from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from api.fields import TextField

from .models import CLIENT_SEED_MAX_LENGTH, User, client_seed_validator


class RegisterSerializer(serializers.Serializer):
    username = TextField(
        max_length=150,
        validators=User._meta.get_field("username").validators,
        help_text="Letters, digits and @/./+/-/_ only.",
    )
    password = TextField(
        write_only=True,
        min_length=8,
        max_length=128,
        style={"input_type": "password"},
        help_text="At least 8 characters, not too common, not all digits.",
    )

    def validate_username(self, username: str) -> str:
        if User.objects.filter(username__iexact=username).exists():
            raise serializers.ValidationError("That username is taken. Choose another.")
        return username

    def validate(self, attrs):
        try:
            validate_password(attrs["password"], User(username=attrs["username"]))
        except DjangoValidationError as weak:
            raise serializers.ValidationError({"password": weak.messages}) from None
        return attrs


class PlayerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class RegisteredSerializer(serializers.Serializer):
    user = PlayerSerializer()
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutSerializer(serializers.Serializer):
    refresh = TextField(help_text="The refresh token to revoke.")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    balance = serializers.IntegerField()
    next_price = serializers.IntegerField()
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()


class ClientSeedSerializer(serializers.Serializer):
    client_seed = TextField(
        max_length=CLIENT_SEED_MAX_LENGTH,
        validators=[client_seed_validator],
        help_text="1 to 64 letters, digits, '-' or '_'. Changing it restarts the nonce at 0.",
    )
