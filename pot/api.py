from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.schema import error_responses

from .models import MAX_ROUND_NUMBER, Round
from .selectors import closed_rounds, fairness_facts
from .serializers import FairnessSerializer, RoundSerializer


class RoundsView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = RoundSerializer
    queryset = closed_rounds()

    @extend_schema(
        responses={200: RoundSerializer(many=True), **error_responses(401, 404)},
        summary="Closed rounds with their revealed seeds, newest first",
        tags=["pot"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RoundView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH, description="Round")],
        responses={200: RoundSerializer, **error_responses(401, 404)},
        summary="One round; its seed is null while it is open",
        tags=["pot"],
    )
    def get(self, request: Request, number: int) -> Response:
        pot_round = None
        if number <= MAX_ROUND_NUMBER:
            pot_round = Round.objects.select_related("winner").filter(number=number).first()
        if pot_round is None:
            raise Http404
        return Response(RoundSerializer(pot_round).data)


class FairnessView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: FairnessSerializer, **error_responses(401)},
        summary="The seed chains, each with its terminal hash, and the open round's commitment",
        tags=["pot"],
    )
    def get(self, request: Request) -> Response:
        return Response(FairnessSerializer(fairness_facts()).data)
