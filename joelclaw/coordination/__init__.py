"""Coordination between processes on Redis: one `Lock` with owner token and lease renewal
(`locks`), and one act-at-most-once-per-period `cooldown` (`cooldown`), used by memory, the cache,
the gateway and the checks."""
