from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from chat import views as chat_views
from live import views as live_views
from operations.health import health_detail
from operations.metrics import metrics_view
from pot import views as pot_views
from wallet import views as wallet_views

# The API first: its requests are the most frequent, and URLs are tried in order.
urlpatterns = [
    path("api/v1/", include("chatpot_project.api_urls")),
    path("", pot_views.home, name="home"),
    path("pot/", pot_views.pot_figure, name="pot-figure"),
    path("fairness/", pot_views.fairness_page, name="fairness"),
    path("fairness/client-seed/", pot_views.change_client_seed, name="client-seed"),
    path(
        "fairness/rounds/<int:number>.csv", chat_views.transcript_csv, name="round-transcript-csv"
    ),
    path("winners/", pot_views.winners, name="winners"),
    # Where a page names no icon (the API's JSON, the admin), browsers ask for this one.
    path("favicon.ico", require_GET(lambda request: redirect(static("favicon.svg")))),
    path("chat/", chat_views.chat, name="chat"),
    path("chat/older/", chat_views.older, name="chat-older"),
    path("chat/send/", chat_views.send, name="chat-send"),
    path("chat/claim/", chat_views.claim, name="chat-claim"),
    path("chat/quote/", chat_views.quote, name="chat-quote"),
    path("chat/messages/<int:message_id>/", chat_views.exchange, name="chat-exchange"),
    path("chat/messages/<int:message_id>/reply/", chat_views.reply, name="chat-reply"),
    path("chat/messages/<int:message_id>/stop/", chat_views.stop, name="chat-stop"),
    # A signed-in player's pages follow the pot and their replies on this one stream.
    path("live/", live_views.player_stream, name="live"),
    path("wallet/", wallet_views.wallet, name="wallet"),
    path("wallet/claim/", wallet_views.claim, name="wallet-claim"),
    path("accounts/register/", accounts_views.register, name="register"),
    path("accounts/login/", accounts_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", health_detail, name="healthz-detail"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/login/", accounts_views.admin_login),
    path("admin/", admin.site.urls),
]

handler400 = "operations.error_views.bad_request"
handler403 = "operations.error_views.permission_denied"
handler404 = "operations.error_views.page_not_found"
handler500 = "operations.error_views.server_error"
