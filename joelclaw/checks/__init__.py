"""The heartbeat's checks (reference §1.2, issue 11): one concept per module, each returning
plain JSON so a function can memoize it as a step. The functions are in `tasks/checks.py` and
`tasks/digest.py`; each check owns its cooldown (`joelclaw.coordination.cooldown`) and says
whether it has something actionable, and only then does its function contact the gateway."""
