from rest_framework import serializers

from .models import Round


class PotSerializer(serializers.Serializer):
    round = serializers.IntegerField(help_text="The open round's number.")
    amount = serializers.IntegerField(help_text="Credits in the pot.")
    win_chance = serializers.DecimalField(max_digits=7, decimal_places=6, coerce_to_string=False)
    server_seed_hash = serializers.CharField(help_text="SHA-256 of the round's secret seed.")
    next_price = serializers.IntegerField(
        allow_null=True, help_text="What the caller's next message costs; null when anonymous."
    )


class RoundSerializer(serializers.ModelSerializer):
    winner = serializers.CharField(source="winner.username", allow_null=True, default=None)
    server_seed = serializers.CharField(
        source="revealed_seed", allow_null=True, help_text="Null while the round is open."
    )

    class Meta:
        model = Round
        fields = [
            "number",
            "outcome",
            "payout",
            "winner",
            "server_seed_hash",
            "server_seed",
            "opened_at",
            "closed_at",
            "message_count",
        ]
