"""Memory (SPEC §7): observe -> reflect -> triage -> review -> promote, and recall.

The logic lives here; `tasks/memory.py` only wires it to events, crons and flow control.
Observations live in Typesense (`memory_observations`), proposals in Redis, and what was
learned for good in MEMORY.md.
"""
