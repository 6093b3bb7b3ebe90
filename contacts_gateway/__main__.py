"""``python -m contacts_gateway`` is the same as the ``contacts-gateway`` command."""

from contacts_gateway.cli import main

main()
