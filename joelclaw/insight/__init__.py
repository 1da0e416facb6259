"""Read-only views of the system for people: function statistics, paged run listings, a run's
waterfall, the gateway queue and the memory review queue. The dashboard (webhooks/dashboard) and
the CLI both build on these, so a page and a command show the same numbers.

Nothing here writes state, and nothing scans every run: each view reads a bounded page.
"""
