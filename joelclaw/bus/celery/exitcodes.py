"""Exit statuses a Celery process of ours uses to talk to its supervisor, importable without
Celery: `joelclaw up`'s supervisor reads them and never loads Celery itself."""

RELOAD_EXIT = 75  # EX_TEMPFAIL: `joelclaw up` restarts a child that exits so at once
