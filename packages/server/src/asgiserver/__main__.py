"""`python -m asgiserver` runs the command-line interface."""

from asgiserver.server._cli import main

main()
