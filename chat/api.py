import io

from django.http import Http404, HttpRequest
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatpot_project.api_errors import exception_handler
from chatpot_project.api_schema import error_responses
from chatpot_project.authentication import PlayerTokenAuthentication
from chatpot_project.parsers import StrictJSONParser
from chatpot_project.throttling import SendThrottle

from .errors import PlayerUnavailable
from .models import Message
from .replies import stop_reply
from .selectors import conversation, player_message
from .serializers import MessageSerializer, SendSerializer, SentSerializer, message_data
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
        summary="Send a message: pay its price and draw; the keeper's reply follows",
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        return sent(request.user, request.data, request.headers)

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        """Sending is the busiest request there is. A well-formed one (a valid bearer
        token, a JSON body, JSON accepted) is answered here, without DRF's request
        machinery: the same authentication, throttle, parser, validation and errors, in
        the same order, except that the player is read and checked to be active by the
        send's own first statement. Anything else goes through DRF, which answers it as
        for every view, as it does a token whose player is gone or inactive."""
        if request.method == "POST" and _plain_json(request):
            try:
                player = PlayerTokenAuthentication().token_player(request)
            except exceptions.APIException:
                player = None  # DRF answers it, with its WWW-Authenticate header
            if player is not None:
                try:
                    return self._send(request, player=player)
                except PlayerUnavailable:
                    pass  # DRF refuses the token's player, as for any other view
        return super().dispatch(request, *args, **kwargs)

    def _send(self, request: HttpRequest, *, player) -> Response:
        request.user = player
        try:
            throttle = SendThrottle()
            if not throttle.allow_request(request, self):
                raise exceptions.Throttled(throttle.wait())
            data = StrictJSONParser().parse(io.BytesIO(request.body)) if request.body else {}
            response = sent(player, data, request.headers)
        except PlayerUnavailable:
            raise
        except Exception as error:
            response = exception_handler(error, {"view": self, "request": request})
            if response is None:
                raise
        # What DRF's dispatch would have negotiated (`_plain_json` accepts JSON only), then
        # its own finishing: renderer, Allow and Vary headers.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        self.headers = self.default_response_headers
        return self.finalize_response(request, response)


def _plain_json(request: HttpRequest) -> bool:
    """A JSON body in UTF-8, an answer in JSON accepted, and no format override."""
    charset = request.content_params.get("charset", "utf-8").lower()
    accept = request.headers.get("Accept", "*/*")
    return (
        request.content_type == "application/json"
        and charset == "utf-8"
        and accept in {"*/*", "application/json", ""}
        and not request.GET
    )


def sent(user, data, headers) -> Response:
    """Validate and send the message; the answer both ways of reaching `post` share."""
    form = SendSerializer(data=data)
    form.is_valid(raise_exception=True)
    result = send_message(
        player=user,
        body=form.validated_data["body"],
        idempotency_key=headers.get("Idempotency-Key"),
    )
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
        message = stop_reply(message=_own_message(request, message_id))
        return Response(message_data(message))
