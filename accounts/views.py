from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import RegisterForm


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and (player := form.save()) is not None:
        login(request, player, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat")
    return render(
        request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200
    )
