from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from api.schema import error_responses
from api.throttling import RegisterThrottle, TokenThrottle

from .errors import UsernameTaken
from .serializers import (
    LogoutSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenPairSerializer,
)
from .services import register_player


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, **error_responses(400, 429)},
        summary="Create a player; returns tokens",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            player = register_player(**form.validated_data)
        except UsernameTaken as taken:  # registered a moment ago by another request
            raise ValidationError({"username": [taken.detail]}) from None
        refresh = RefreshToken.for_user(player)
        body = {
            "user": {"id": player.pk, "username": player.username},
            "access": str(refresh.access_token),
            "refresh": str(refresh),
        }
        return Response(RegisteredSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["auth"],
    summary="Obtain an access and a refresh token",
    responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
)
class TokenView(TokenObtainPairView):
    throttle_classes = [TokenThrottle]

    def get_serializer_context(self):
        # The brute-force guard marks a locked-out request on the object it is given; hand
        # it Django's own request, which its middleware answers with the lock-out response.
        return {**super().get_serializer_context(), "request": self.request._request}


@extend_schema(
    tags=["auth"],
    summary="Rotate a refresh token; the old one is revoked",
    responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
)
class TokenRotateView(TokenRefreshView):
    throttle_classes = [TokenThrottle]


class LogoutView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        request=LogoutSerializer,
        responses={204: None, **error_responses(400, 401, 429)},
        summary="Revoke a refresh token",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        form = LogoutSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            RefreshToken(form.validated_data["refresh"]).blacklist()
        except TokenError as error:
            raise InvalidToken(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_authenticate_header(self, request: Request) -> str:
        # Without authenticators DRF would turn the bad token's 401 into a 403.
        return 'Bearer realm="api"'
