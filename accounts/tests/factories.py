import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from accounts.services import register_player

PASSWORD = "a-long-enough-passphrase"


class PlayerFactory(DjangoModelFactory):
    """A player made the way users are made: with an account and the signup grant."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"player{n}")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return register_player(**kwargs)
