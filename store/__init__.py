"""The interception log: events from the proxy and the extension, hash-chained per device.

```python
from store import Event, StoreConfig, open_store
config = StoreConfig(content_mode="redacted", retention_days=365, redact=my_redact)
st = open_store(db, config)  # SQLite path or postgresql:// URL; None -> default_db()
st.append(Event(source="proxy", action="warned", text="...", findings=[...]))
st.close()
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from store.config import StoreConfig
from store.event import ACTIONS, CONTENT_MODES, REVIEW_STATUSES, SOURCES, Event

if TYPE_CHECKING:
    from store.chain import Problem
    from store.db import default_db
    from store.query import Filters
    from store.store import Store, open_store

# What needs a database driver is imported on first use, so that building events
# (`store.event`, `store.config`) costs a process neither psycopg nor sqlite3.
_LAZY = {"Problem": "store.chain", "default_db": "store.db", "Filters": "store.query",
         "Store": "store.store", "open_store": "store.store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")


__all__ = [
    "ACTIONS", "CONTENT_MODES", "REVIEW_STATUSES", "SOURCES", "Event", "Filters", "Problem", "Store",
    "StoreConfig", "default_db", "open_store",
]
