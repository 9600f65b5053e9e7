"""With REDIS_URL, rate-limit counters live in Redis: two workers with their own connections share one budget."""

import uuid

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from api.throttling import CallerRateThrottle

pytestmark = pytest.mark.django_db

# Database 13 of the local Redis is this suite's; each test writes under its own key prefix and removes
# only its own keys, so parallel workers (and other checkouts' suites) never see each other's counters.
REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_server():
    connection = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(
            f"No Redis answering at {REDIS_TEST_URL} ({error}). The shared rate-limit tests need the real server: "
            "start it (`.ci/run` does) with redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''."
        )
    yield connection
    connection.close()


@pytest.fixture
def two_workers(redis_server):
    """Two cache clients as two worker processes would build them from the same REDIS_URL setting."""
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    workers = [RedisCache(REDIS_TEST_URL, {"KEY_PREFIX": prefix}) for _ in range(2)]
    yield workers
    for worker in workers:
        worker.close()
    for key in redis_server.scan_iter(f"{prefix}:*"):
        redis_server.delete(key)


@pytest.fixture
def three_per_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "caller": "3/min"},
    }


def test_the_two_workers_are_separate_connections_to_one_store(two_workers):
    first, second = two_workers
    assert first._cache.get_client() is not second._cache.get_client()

    first.set("written-by-the-first-worker", 1)

    assert second.get("written-by-the-first-worker") == 1


def test_a_tokens_budget_is_shared_by_requests_served_by_different_workers(
    two_workers, three_per_minute, api, monkeypatch
):
    first, second = two_workers
    statuses = []
    for worker in (first, second, first, second):
        monkeypatch.setattr(CallerRateThrottle, "cache", worker)
        statuses.append(api.get("/api/v1/patients/").status_code)

    assert statuses == [200, 200, 200, 429]


def test_with_per_process_memory_caches_each_worker_would_grant_its_own_budget(three_per_minute, api, monkeypatch):
    # Why production needs REDIS_URL: the same requests against two in-memory caches are never refused.
    from django.core.cache.backends.locmem import LocMemCache

    first, second = LocMemCache("worker-a", {}), LocMemCache("worker-b", {})
    statuses = []
    for worker in (first, second, first, second):
        monkeypatch.setattr(CallerRateThrottle, "cache", worker)
        statuses.append(api.get("/api/v1/patients/").status_code)

    assert statuses == [200, 200, 200, 200]
