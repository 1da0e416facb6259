"""Function modules, one per domain. Which ones load is set by JOELCLAW_FUNCTION_MODULES
(the built-ins are listed in `joelclaw.config.BUILTIN_FUNCTION_MODULES`)."""
