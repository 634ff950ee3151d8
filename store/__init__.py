"""The interception log: events from the proxy and the extension, hash-chained per device.

```python
from store import Event, StoreConfig, open_store
config = StoreConfig(content_mode="redacted", retention_days=365, redact=my_redact)
st = open_store(db, config)  # SQLite path or postgresql:// URL; None -> default_db()
st.append(Event(source="proxy", action="warned", text="...", findings=[...]))
st.close()
```
"""

from store.chain import Problem
from store.config import StoreConfig
from store.db import default_db
from store.event import ACTIONS, CONTENT_MODES, REVIEW_STATUSES, SOURCES, Event
from store.query import Filters
from store.store import Store, open_store

__all__ = [
    "ACTIONS", "CONTENT_MODES", "REVIEW_STATUSES", "SOURCES", "Event", "Filters", "Problem", "Store",
    "StoreConfig", "default_db", "open_store",
]
