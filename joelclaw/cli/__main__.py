"""`python -m joelclaw.cli`, the same as the `joelclaw` console script."""

from joelclaw.cli import main

main()
