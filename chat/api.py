from django.http import Http404, HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.serializers import ClientSeedSerializer, MeSerializer
from accounts.services import set_client_seed
from api.authentication import PlayerTokenAuthentication
from api.schema import error_responses
from api.throttling import SendThrottle
from common.streaming import streamed
from game.models import GameConfig
from pot.selectors import pot_status
from pot.serializers import PotSerializer

from . import transcripts
from .errors import PlayerUnavailable
from .models import Message
from .selectors import conversation, player_message, price_quote
from .serializers import MessageSerializer, SendSerializer, SentSerializer, message_data
from .services import reply_stop, send_message

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (at most 100 characters). Sending the same key again returns "
        "the first result without charging; a different body with the same key is a 409."
    ),
)


class MessagesView(ListAPIView):
    serializer_class = MessageSerializer

    def get_queryset(self):
        return conversation(player=self.request.user)

    def get_authenticators(self):
        # The send reads its player under its own lock (the schema's generator has no request).
        if self.request is not None and self.request.method == "POST":
            return [PlayerTokenAuthentication(stateless=True)]
        return super().get_authenticators()

    def get_throttles(self):
        return [SendThrottle()] if self.request.method == "POST" else super().get_throttles()

    @extend_schema(
        responses={200: MessageSerializer(many=True), **error_responses(401, 404)},
        summary="The player's messages, newest first",
        tags=["chat"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SendSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: SentSerializer, **error_responses(400, 401, 402, 409, 429, 503)},
        summary="Send a message: pay its price and draw; the keeper's reply follows",
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        form = SendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            result = send_message(
                player=request.user,
                body=form.validated_data["body"],
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
        except PlayerUnavailable:  # gone or deactivated since the token was issued
            raise AuthenticationFailed("User is inactive", code="user_inactive") from None
        # The shape of SentSerializer, built directly: this is the busiest response there is.
        body = {
            "message": message_data(result.message),
            "balance": result.balance,
            "next_price": result.next_price,
            "pot": {"round": result.round_number, "amount": result.pot},
        }
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


MESSAGE_ID = OpenApiParameter("message_id", int, OpenApiParameter.PATH, description="Message")


def _own_message(request: Request, message_id: int) -> Message:
    if (message := player_message(player=request.user, message_id=message_id)) is None:
        raise Http404
    return message


class MessageView(APIView):
    @extend_schema(
        parameters=[MESSAGE_ID],
        responses={200: MessageSerializer, **error_responses(401, 404)},
        summary="One of the player's messages (poll it instead of following its stream)",
        tags=["chat"],
    )
    def get(self, request: Request, message_id: int) -> Response:
        return Response(message_data(_own_message(request, message_id)))


class StopView(APIView):
    @extend_schema(
        request=None,
        parameters=[MESSAGE_ID],
        responses={200: MessageSerializer, **error_responses(401, 404)},
        summary="Stop the keeper's reply: it keeps what was written; the charge stands",
        tags=["chat"],
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = reply_stop(message=_own_message(request, message_id))
        return Response(message_data(message))


# The player and the pot as the player sees them: with what their next message costs.


class MeView(APIView):
    @extend_schema(
        responses={200: MeSerializer, **error_responses(401)},
        summary="The signed-in player",
        tags=["player"],
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(_me(request)).data)


class ClientSeedView(APIView):
    @extend_schema(
        request=ClientSeedSerializer,
        responses={200: MeSerializer, **error_responses(400, 401)},
        summary="Set a new client seed (the nonce restarts at 0)",
        tags=["player"],
    )
    def put(self, request: Request) -> Response:
        form = ClientSeedSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        set_client_seed(player=request.user, client_seed=form.validated_data["client_seed"])
        return Response(MeSerializer(_me(request)).data)


def _me(request: Request) -> dict:
    quote = price_quote(player=request.user)
    return {
        "id": request.user.pk,
        "username": request.user.username,
        "balance": quote.balance,
        "next_price": quote.price,
        "client_seed": request.user.client_seed,
        "nonce": request.user.nonce,
    }


class PotView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: PotSerializer, **error_responses(401)},
        summary="The open round and the pot (a token adds your next price)",
        tags=["pot"],
    )
    def get(self, request: Request) -> Response:
        status = pot_status()
        next_price = (
            price_quote(player=request.user).price if request.user.is_authenticated else None
        )
        body = {
            "round": status.round_number,
            "amount": status.amount,
            "win_chance": GameConfig.load().win_chance,
            "server_seed_hash": status.server_seed_hash,
            "next_price": next_price,
        }
        return Response(PotSerializer(body).data)


class TranscriptView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH, description="Round")],
        responses={
            (200, "application/json"): {
                "type": "object",
                "description": (
                    "`round`: the round, its revealed seed, the seed revealed before it "
                    "(`previous_seed`) and its chain; `messages`: every message of the round "
                    "in the order they settled (id, player, client_seed, nonce, price, "
                    "win_chance, roll, won, payout, and `mine`: true for the caller's own). "
                    "Written as it is read: a round of any size streams."
                ),
            },
            **error_responses(401, 404),
        },
        summary="A closed round's transcript, to check every draw of it (docs/GAME.md)",
        tags=["pot"],
    )
    def get(self, request: Request, number: int) -> HttpResponseBase:
        pot_round = transcripts.closed_round(number)
        if pot_round is None:
            raise NotFound(transcripts.missing(number))
        viewer = request.user.pk if request.user.is_authenticated else None
        return streamed(
            request,
            transcripts.as_json(pot_round, viewer_id=viewer),
            content_type="application/json",
        )
