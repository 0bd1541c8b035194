"""`python -m tenantgate` runs the CLI."""

from tenantgate.cli.main import main

main()
