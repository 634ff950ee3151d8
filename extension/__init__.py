"""postguard's browser extension (`webext/`) and its local backend (`backend/`)."""
