from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.schema import error_responses
from game.models import GameConfig

from .selectors import player_account, transfers_of
from .serializers import ClaimSerializer, TransferSerializer, WalletSerializer
from .services import claim_daily, next_claim_at


class WalletView(APIView):
    @extend_schema(
        responses={200: WalletSerializer, **error_responses(401)},
        summary="The player's balance and daily claim",
        tags=["wallet"],
    )
    def get(self, request: Request) -> Response:
        account = player_account(request.user)
        body = {
            "balance": account.balance,
            "daily_claim": GameConfig.load().daily_claim,
            "next_claim_at": next_claim_at(account),
        }
        return Response(WalletSerializer(body).data)


class TransfersView(ListAPIView):
    serializer_class = TransferSerializer

    @extend_schema(
        responses={200: TransferSerializer(many=True), **error_responses(401, 404)},
        summary="The player's transfers, newest first",
        tags=["wallet"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return transfers_of(self.account)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "account": self.account}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.account = player_account(request.user)


class ClaimView(APIView):
    @extend_schema(
        request=None,
        responses={200: ClaimSerializer, **error_responses(401, 409, 429)},
        summary="Claim the daily credits (429 with retry_after when too early)",
        tags=["wallet"],
    )
    def post(self, request: Request) -> Response:
        result = claim_daily(player=request.user)
        body = {
            "amount": result.amount,
            "balance": result.balance,
            "next_claim_at": result.next_claim_at,
        }
        return Response(ClaimSerializer(body).data, status=status.HTTP_200_OK)
