"""`python -m postguard` is the same as the `postguard` command."""

from postguard.cli import main

raise SystemExit(main())
