from rest_framework import serializers

from chatpot_project.api import TextField

from .models import Message


class DrawSerializer(serializers.Serializer):
    round = serializers.IntegerField(source="round.number")
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()
    roll = serializers.FloatField(help_text="In [0, 1); the message won when below win_chance.")
    win_chance = serializers.DecimalField(max_digits=7, decimal_places=6, coerce_to_string=False)


class MessageSerializer(serializers.ModelSerializer):
    reply = serializers.CharField(
        allow_null=True, help_text="The keeper's reply; null until it is ready."
    )
    draw = DrawSerializer(source="*")

    class Meta:
        model = Message
        fields = ["id", "body", "price", "won", "payout", "reply", "created_at", "draw"]

    def to_representation(self, message: Message) -> dict:
        data = super().to_representation(message)
        data["reply"] = data["reply"] or None
        return data


class SendSerializer(serializers.Serializer):
    body = TextField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="The message; an empty or overlong one is refused before any charge.",
    )


class PotAfterSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    amount = serializers.IntegerField()


class SentSerializer(serializers.Serializer):
    message = MessageSerializer()
    balance = serializers.IntegerField()
    next_price = serializers.IntegerField()
    pot = PotAfterSerializer()
