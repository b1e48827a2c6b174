from django.urls import path, re_path

from accounts import api as accounts_api
from api.errors import api_not_found
from chat import api as chat_api
from live import views as live_views
from pot import api as pot_api
from wallet import api as wallet_api

urlpatterns = [
    path("messages", chat_api.MessagesView.as_view(), name="api-messages"),  # the busiest
    path("messages/<int:message_id>", chat_api.MessageView.as_view(), name="api-message"),
    path("messages/<int:message_id>/stop", chat_api.StopView.as_view(), name="api-message-stop"),
    # Streams: who may listen; the real-time engine holds them (docs/LIVE.md).
    path("messages/<int:message_id>/stream", live_views.reply_stream, name="api-message-stream"),
    path("events", live_views.events, name="api-events"),
    path("auth/register", accounts_api.RegisterView.as_view(), name="api-register"),
    path("auth/token", accounts_api.TokenView.as_view(), name="api-token"),
    path("auth/token/refresh", accounts_api.TokenRotateView.as_view(), name="api-token-refresh"),
    path("auth/logout", accounts_api.LogoutView.as_view(), name="api-logout"),
    path("me", chat_api.MeView.as_view(), name="api-me"),
    path("me/client-seed", chat_api.ClientSeedView.as_view(), name="api-client-seed"),
    path("wallet", wallet_api.WalletView.as_view(), name="api-wallet"),
    path("wallet/transfers", wallet_api.TransfersView.as_view(), name="api-transfers"),
    path("wallet/claim", wallet_api.ClaimView.as_view(), name="api-claim"),
    path("pot", chat_api.PotView.as_view(), name="api-pot"),
    path("pot/rounds", pot_api.RoundsView.as_view(), name="api-rounds"),
    path("pot/rounds/<int:number>", pot_api.RoundView.as_view(), name="api-round"),
    path(
        "pot/rounds/<int:number>/transcript",
        chat_api.TranscriptView.as_view(),
        name="api-round-transcript",
    ),
    path("fairness", pot_api.FairnessView.as_view(), name="api-fairness"),
    re_path(r"^(?P<path>.*)$", api_not_found),
]
