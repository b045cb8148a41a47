"""Secrets in the Redis URL stay out of reprs and log lines."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recserve.config import Settings
from recserve.replication import RedisLink, safe_url


def test_password_is_masked() -> None:
    assert safe_url("redis://:s3cret@cache:6380/1") == "redis://:***@cache:6380/1"
    assert safe_url("rediss://app:s3cret@cache/0") == "rediss://app:***@cache/0"
    assert safe_url("redis://cache:6379/0") == "redis://cache:6379/0"
    link = RedisLink("redis://:s3cret@cache:6380/1", "shop")
    assert "s3cret" not in repr(link)
    link.close()


def test_settings_hide_the_redis_url_and_check_it() -> None:
    settings = Settings(redis_url="redis://:s3cret@cache:6379/0")
    assert "s3cret" not in repr(settings)
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(redis_url="http://cache:6379")
    with pytest.raises(ValidationError, match="redis_prefix"):
        Settings(redis_prefix="has space")
