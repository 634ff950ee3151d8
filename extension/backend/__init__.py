"""The extension's local backend (`postguard backend`): checks posts for the extension, logs choices."""

from extension.backend.app import create_app
from extension.backend.config import EXTENSION_ID, TOKEN_HEADER, BackendConfig

__all__ = ["EXTENSION_ID", "TOKEN_HEADER", "BackendConfig", "create_app"]
