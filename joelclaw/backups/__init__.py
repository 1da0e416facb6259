"""Backups (reference §1.7 #86/#87): a Redis dump (BGSAVE, then the RDB file copied) and a
Typesense snapshot, each stamped in the owner's time zone under JOELCLAW_BACKUP_DIR and rotated
to the newest JOELCLAW_BACKUP_KEEP.

layout (where backups go, stamps, BackupSkipped), rotation (keep the newest N), redis_dump,
snapshot.
"""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.backups import layout`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.backups import layout, steps

__all__ = ["layout", "steps"]
