from django.conf import settings
from django.core.checks import Error, register


@register()
def dev_engine_not_in_production(app_configs, **kwargs):
    """The stand-in engine (live.devengine) holds every stream in one process's memory:
    for `bin/run` and the tests, never production."""
    if settings.LIVE_DEV_ENGINE and not settings.DEBUG:
        return [
            Error(
                "LIVE_DEV_ENGINE is on with DEBUG off: the stand-in engine is for development.",
                hint="Run the real-time engine of deploy/ (bin/proxy) and set LIVE_PUBLISH_URL "
                "to its publisher; unset LIVE_DEV_ENGINE.",
                id="live.E001",
            )
        ]
    return []
