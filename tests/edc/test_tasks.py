import pytest

from edc.tasks import health_check


@pytest.mark.django_db
def test_health_check_runs_in_process():
    assert health_check.apply().get(timeout=5) == {"worker": "ok", "database": "ok"}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_task_sent_to_real_redis_runs_on_a_real_worker(celery_worker_on_redis, redis_url):
    from config.celery import app

    assert app.conf.broker_url.startswith("redis://")
    result = health_check.apply_async()
    assert result.get(timeout=30) == {"worker": "ok", "database": "ok"}
