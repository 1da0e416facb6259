"""The run dashboard (SPEC §14): server-rendered pages for what needs the owner, functions, runs
and their waterfall, events, the gateway queue and the memory review queue, each also served
as JSON under /api/dashboard/, with bulk actions on runs, shadow-replay reports and forgetting
on request.
`create_app` registers `blueprint`; see security.py for who may use it.
"""

from webhooks.dashboard import actions, bulk, filters, forget, owner, pages, shadow
from webhooks.dashboard.blueprint import blueprint

__all__ = ["actions", "blueprint", "bulk", "filters", "forget", "owner", "pages", "shadow"]
