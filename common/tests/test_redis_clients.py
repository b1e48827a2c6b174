from django.test import override_settings

from common.redis_clients import redis_url

REDIS = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://h:1/3"}
MEMORY = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def test_the_redis_in_use_follows_a_changed_cache_setting():
    with override_settings(CACHES={"default": REDIS}):
        assert redis_url() == "redis://h:1/3"
        with override_settings(CACHES={"default": MEMORY}):
            assert redis_url() is None
        assert redis_url() == "redis://h:1/3"
