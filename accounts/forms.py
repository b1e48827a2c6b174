from django.contrib.auth.forms import UserCreationForm

from .errors import UsernameTaken
from .models import User
from .services import register_player


class RegisterForm(UserCreationForm):
    """Username and password, checked by Django's password validators."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username"]

    def save(self, commit=True):
        try:
            return register_player(
                username=self.cleaned_data["username"], password=self.cleaned_data["password1"]
            )
        except UsernameTaken as taken:
            self.add_error("username", taken.detail)
            return None
