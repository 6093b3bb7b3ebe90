"""API key scopes."""

CONTACTS_READ = "contacts:read"
CONTACTS_WRITE = "contacts:write"
CONFIG_READ = "config:read"
CONFIG_WRITE = "config:write"

ALL_SCOPES: tuple[str, ...] = (CONTACTS_READ, CONTACTS_WRITE, CONFIG_READ, CONFIG_WRITE)
