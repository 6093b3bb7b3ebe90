"""contacts-gateway: contacts and companies for a helpdesk, over GraphQL and REST."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("contacts-gateway")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
