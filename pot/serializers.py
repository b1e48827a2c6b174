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


class SeedChainSerializer(serializers.Serializer):
    terminal_hash = serializers.CharField(
        help_text="The chain's end: SHA-256 of the seed of its first round."
    )
    length = serializers.IntegerField(help_text="Seeds in the chain, one per round.")
    first_round = serializers.IntegerField(help_text="The round that takes its first seed.")
    until_round = serializers.IntegerField(
        help_text="The last round it gives a seed to: its last seed's, or the round before "
        "a newer chain took over."
    )
    replaced = serializers.BooleanField(
        help_text="A newer chain took over before this one ran out."
    )
    created_at = serializers.DateTimeField()


class OpenRoundSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    server_seed_hash = serializers.CharField(
        help_text="SHA-256 of the round's secret seed: the seed revealed by the round before."
    )
    chain_position = serializers.IntegerField(
        allow_null=True, help_text="The seed's place in its chain (1 = first); null if none."
    )


class FairnessSerializer(serializers.Serializer):
    open_round = OpenRoundSerializer()
    chains = SeedChainSerializer(
        many=True, help_text="Oldest first; each holds from its first round until the next's."
    )
    first_chained_round = serializers.IntegerField(
        allow_null=True, help_text="Rounds before this one took random seeds of their own."
    )
