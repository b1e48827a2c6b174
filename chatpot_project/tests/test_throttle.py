import threading
import uuid

from django.core.cache import cache

from chatpot_project.api import _redis, _uses_redis, count_request


def test_requests_are_counted_in_a_window_that_expires():
    key = f"window-{uuid.uuid4()}"
    assert [count_request(key, timeout=30) for _ in range(3)] == [1, 2, 3]
    assert count_request(f"{key}-other", timeout=30) == 1
    if _uses_redis():  # the window's expiry is set once, by its first request
        assert 0 < _redis().ttl(cache.make_key(key)) <= 30


def test_counts_from_many_threads_add_up_each_thread_with_its_own_connection():
    key = f"threads-{uuid.uuid4()}"
    clients, counts = [], []

    def count():
        clients.append(_redis())
        counts.extend(count_request(key, timeout=30) for _ in range(25))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 201))
    if _uses_redis():
        assert len({id(client) for client in clients}) == 8
