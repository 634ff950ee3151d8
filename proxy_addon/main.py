"""Process entry points: the mitmdump script and the check worker.

- `mitmdump -s proxy_addon/main.py [--set postguard_policy=DIR ...]` loads the add-on.
- `python -m proxy_addon.main --check-worker POLICY_DIR [--no-encoder]` is the worker process the add-on
  starts itself: it reads framed requests on stdin and writes inspections on stdout, so the
  proxy's event loop only pickles and pipes (no threads in the proxy contending for its GIL).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--check-worker" and sys.argv[3:] in ([], ["--no-encoder"]):
        from proxy_addon.worker import serve

        sys.exit(serve(sys.argv[2], encoder=sys.argv[3:] != ["--no-encoder"]))
    sys.exit("usage: python -m proxy_addon.main --check-worker POLICY_DIR [--no-encoder]  "
             "(or: mitmdump -s proxy_addon/main.py)")
else:
    from proxy_addon.addon import PostguardAddon

    addons = [PostguardAddon()]
