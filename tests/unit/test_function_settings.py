"""A function's cron or flow option may come from the settings: read when a runtime loads it.

Importing the module that declares it reads nothing (no environment, no `.env`); each runtime's
registry reads the options from its own settings, and the defaults are checked at declaration,
so a typo fails at import as it would for a literal.
"""

from __future__ import annotations

import pytest

from joelclaw.bus.functions import Registry, cron, function
from joelclaw.config import Settings
from joelclaw.errors import FunctionDefinitionError


@function("settings-read-test", concurrency=lambda s: s.docs.ingest_concurrency,
          triggers=[cron(lambda s: s.backups.redis_cron, timezone=lambda s: s.timezone)])
def _reads_settings(ctx: object) -> None:
    """Reads its cron, time zone and concurrency from the settings."""


def test_each_registry_reads_the_options_from_its_own_settings() -> None:
    paris = Settings(_env_file=None, backup_redis_cron="5 4 * * *", timezone="Europe/Paris",
                     docs_ingest_concurrency=3)
    tokyo = paris.with_overrides(backup_redis_cron="0 1 * * *", timezone="Asia/Tokyo",
                                 docs_ingest_concurrency=1)
    for settings, expected in ((paris, ("5 4 * * *", "Europe/Paris", 3)),
                               (tokyo, ("0 1 * * *", "Asia/Tokyo", 1))):
        fn = Registry([_reads_settings], settings=settings).get("settings-read-test")
        assert fn is not None and fn.flow is not None
        [trig] = fn.crons
        assert (trig.cron, trig.timezone, fn.flow.concurrency[0].limit) == expected


def test_a_bad_default_fails_at_declaration() -> None:
    with pytest.raises(FunctionDefinitionError, match="invalid cron expression"):
        cron(lambda s: "every morning")

