"""Process entry points: the mitmdump script and the check worker.

- `mitmdump -s proxy_addon/main.py [--set postguard_policy=DIR ...]` loads the add-on.
- `python -m proxy_addon.main --check-worker POLICY_DIR` is the worker process the add-on
  starts itself: it reads framed requests on stdin and writes verdicts on stdout, so the
  proxy's event loop only pickles and pipes (no threads in the proxy contending for its GIL).
"""

from __future__ import annotations

import pickle
import sys


def serve_check_worker(policy_dir: str) -> int:
    """Answer (id, (method, url, headers, body, max_bytes)) frames with (id, ok, result|error)."""
    from checker import check, load_policy
    from proxy_addon.addon import analyse

    policy = load_policy(policy_dir)
    rd, wr = sys.stdin.buffer, sys.stdout.buffer
    wr.write(b"PGW1")  # ready
    wr.flush()
    while True:
        head = rd.read(4)
        if len(head) < 4:
            return 0
        rid, (method, url, headers, body, max_bytes) = pickle.loads(rd.read(int.from_bytes(head, "big")))
        try:
            out = (rid, True, analyse(method, url, headers, body, policy, check, max_bytes))
        except Exception as e:  # sent back by class name and message, re-raised in the proxy
            out = (rid, False, (type(e).__name__, str(e)[:500]))
        data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        wr.write(len(data).to_bytes(4, "big") + data)
        wr.flush()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-worker":
        sys.exit(serve_check_worker(sys.argv[2]))
    sys.exit("usage: python -m proxy_addon.main --check-worker POLICY_DIR  (or: mitmdump -s proxy_addon/main.py)")
else:
    from proxy_addon.addon import PostguardAddon

    addons = [PostguardAddon()]
