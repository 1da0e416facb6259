"""Function modules, one per domain. setup.cfg declares them to joelclaw as entry points
(`joelclaw.functions`); JOELCLAW_FUNCTION_MODULES adds a deployment's own."""
