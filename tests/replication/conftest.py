from tests.replication.support import redis_prefix

__all__ = ["redis_prefix"]
