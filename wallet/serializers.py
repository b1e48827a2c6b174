from rest_framework import serializers

from .models import Transfer
from .selectors import describe_transfer


class WalletSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    daily_claim = serializers.IntegerField(help_text="Credits one daily claim gives.")
    next_claim_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next claim opens; null if it is open now."
    )


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Transfer.Kind.choices)
    amount = serializers.IntegerField(help_text="Signed: positive in, negative out.")
    description = serializers.CharField()
    memo = serializers.CharField(allow_blank=True)
    round = serializers.IntegerField(allow_null=True, help_text="Round number, if any.")
    message = serializers.IntegerField(allow_null=True, help_text="Message id, if any.")
    created_at = serializers.DateTimeField()

    def to_representation(self, transfer: Transfer) -> dict:
        """Seen from the account in the context: signed, and in words."""
        line = describe_transfer(transfer, self.context["account"])
        return {
            "id": transfer.pk,
            "kind": transfer.kind,
            "amount": line.change,
            "description": line.what,
            "memo": line.memo,
            "round": transfer.round.number if transfer.round_id else None,
            "message": transfer.message_id,
            "created_at": self.fields["created_at"].to_representation(transfer.created_at),
        }


class ClaimSerializer(serializers.Serializer):
    amount = serializers.IntegerField()
    balance = serializers.IntegerField()
    next_claim_at = serializers.DateTimeField()
