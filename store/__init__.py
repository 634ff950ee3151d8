"""The interception log: events from the proxy and the extension, hash-chained per device.

```python
from store import open_store, Event, default_db
st = open_store(db)          # SQLite path or postgresql:// URL; None -> default_db()
st.append(Event(source="proxy", action="warned", text="...", findings=[...]))
st.close()
```
"""

from store.chain import Problem
from store.db import default_db
from store.event import ACTIONS, CONTENT_MODES, REVIEW_STATUSES, SOURCES, Event
from store.query import Filters
from store.store import Store, open_store

__all__ = [
    "ACTIONS", "CONTENT_MODES", "REVIEW_STATUSES", "SOURCES", "Event", "Filters", "Problem", "Store",
    "default_db", "open_store",
]
