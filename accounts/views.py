from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from api.throttling import client_address, limit
from common.errors import RateLimited

from .forms import RegisterForm


def _refused(response: HttpResponse, refused: RateLimited) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(refused.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat")
    if request.method == "POST":
        try:  # counted with the API's sign-ups from the same address
            limit("register", client_address(request))
        except RateLimited as refused:
            form = RegisterForm(initial={"username": request.POST.get("username")})
            context = {"form": form, "refusal": refused.detail}
            return _refused(render(request, "accounts/register.html", context), refused)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and (player := form.save()) is not None:
        login(request, player, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat")
    return render(
        request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200
    )


class LoginView(auth_views.LoginView):
    """Django's log-in, counted with the API's token requests from the same address: one
    password tried against many usernames meets the same limit on both."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        try:
            limit("token", client_address(request))
        except RateLimited as refused:
            # Not checked, so no password is tried: the form comes back with the refusal.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username")}
            )
            context = self.get_context_data(form=form, refusal=refused.detail)
            return _refused(self.render_to_response(context), refused)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """Log out, and say so on the page the player lands on."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.success(request, "You're logged out. The pot will be here when you're back.")
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's log-in, under the same limit as the site's."""
    if request.method == "POST":
        try:
            limit("token", client_address(request))
        except RateLimited as refused:
            page = render(request, "registration/too_many.html", {"detail": refused.detail})
            return _refused(page, refused)
    return admin.site.login(request)
