"""Sub-commands of `postguard`; each module has `register(subparsers)`."""
