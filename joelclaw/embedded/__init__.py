"""Servers joelclaw can run itself, for `joelclaw up` and the tests: Redis and Typesense.

Both listen on loopback only, on ports chosen once and recorded under their directories, so a
restart finds the same data at the same address; both give `up` an argv and a readiness probe so
its supervisor can run and restart them like every other child.
"""

from joelclaw.embedded.ports import free_port, port_is_free, recorded_port
from joelclaw.embedded.redis import RedisServer, find_redis_binary
from joelclaw.embedded.typesense import TypesenseServer, find_typesense_binary

__all__ = [
    "RedisServer", "TypesenseServer", "find_redis_binary", "find_typesense_binary", "free_port",
    "port_is_free", "recorded_port",
]
