from django.apps import AppConfig


class PotConfig(AppConfig):
    name = "pot"
