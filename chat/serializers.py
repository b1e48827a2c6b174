import copy
import functools

from django.urls import get_script_prefix, reverse
from rest_framework import serializers

from api.fields import TextField

from .models import Message, Reply

TIMESTAMP = serializers.DateTimeField()


class DrawSerializer(serializers.Serializer):
    round = serializers.IntegerField(source="round.number")
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()
    roll = serializers.FloatField(help_text="In [0, 1); the message won when below win_chance.")
    win_chance = serializers.DecimalField(max_digits=7, decimal_places=6, coerce_to_string=False)


class MessageSerializer(serializers.ModelSerializer):
    reply = serializers.CharField(
        allow_null=True,
        help_text="The keeper's reply; null until it is complete (`reply_status` done, "
        "stopped or interrupted). Follow `reply_stream` to see it being written.",
    )
    reply_status = serializers.ChoiceField(
        choices=Reply.Status.choices,
        help_text="`pending` (waiting for a worker), `streaming` (being written), `done`, or "
        "`stopped` (by the player: the reply keeps what was written), or `interrupted` (the "
        "worker writing it died part-way: what it wrote stands, cut short).",
    )
    reply_stream = serializers.CharField(
        help_text="Where the reply streams as server-sent events (relative to the site): "
        "`token` events with the next piece, then one `done` with the message."
    )
    draw = DrawSerializer(source="*")

    class Meta:
        model = Message
        fields = [
            "id",
            "body",
            "price",
            "won",
            "payout",
            "reply",
            "reply_status",
            "reply_stream",
            "created_at",
            "draw",
        ]

    def to_representation(self, message: Message) -> dict:
        return message_data(message)


def reply_stream_url(message_id: int) -> str:
    return f"{_messages_url(get_script_prefix())}{message_id}/stream"


@functools.lru_cache(maxsize=4)
def _messages_url(script_prefix: str) -> str:
    """Where the messages' own URLs start: reversed once, not for every message sent."""
    return reverse("api-message-stream", args=[1]).removesuffix("1/stream")


def message_data(message: Message) -> dict:
    """A message as MessageSerializer represents it, built directly: this runs for every
    message sent, and the fields above are the contract (the schema tests hold the two
    together)."""
    return {
        "id": message.pk,
        "body": message.body,
        "price": message.price,
        "won": message.won,
        "payout": message.payout,
        "reply": message.reply.text if message.reply.finished else None,
        "reply_status": message.reply.status,
        "reply_stream": reply_stream_url(message.pk),
        "created_at": TIMESTAMP.to_representation(message.created_at),
        "draw": {
            "round": message.round.number,
            "client_seed": message.client_seed,
            "nonce": message.nonce,
            "roll": message.roll,
            "win_chance": float(message.win_chance),
        },
    }


class SendSerializer(serializers.Serializer):
    body = TextField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="The message; an empty or overlong one is refused before any charge.",
    )

    def get_fields(self) -> dict:
        # DRF deep-copies the declared fields for every instance; a shallow copy of each
        # unbound field is as fresh (DRF binds the copy) and costs a fraction: this runs
        # for every message sent.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class PotAfterSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    amount = serializers.IntegerField()


class SentSerializer(serializers.Serializer):
    message = MessageSerializer()
    balance = serializers.IntegerField()
    next_price = serializers.IntegerField()
    pot = PotAfterSerializer()
