import uuid

from django.core.cache import cache

from chatpot_project.api import _redis, _uses_redis, count_request


def test_requests_are_counted_in_a_window_that_expires():
    key = f"window-{uuid.uuid4()}"
    assert [count_request(key, timeout=30) for _ in range(3)] == [1, 2, 3]
    assert count_request(f"{key}-other", timeout=30) == 1
    if _uses_redis():  # the window's expiry is set once, by its first request
        assert 0 < _redis().ttl(cache.make_and_validate_key(key)) <= 30
