from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from chatpot_project.api import SendThrottle, error_responses

from .selectors import conversation
from .serializers import MessageSerializer, SendSerializer, SentSerializer
from .services import send_message

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
        summary="Send a message: pay its price, draw, and get the keeper's reply",
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        form = SendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        result = send_message(
            player=request.user,
            body=form.validated_data["body"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        # The shape of SentSerializer, built directly: this is the busiest response there is.
        body = {
            "message": MessageSerializer(result.message).data,
            "balance": result.balance,
            "next_price": result.next_price,
            "pot": {"round": result.round_number, "amount": result.pot},
        }
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)
