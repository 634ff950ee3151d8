"""Process entry points: the mitmdump script and the check worker.

- `mitmdump -s proxy_addon/main.py [--set postguard_policy=DIR ...]` loads the add-on.
- `python -m proxy_addon.main --check-worker POLICY_DIR [--no-encoder]` is the worker process the add-on
  starts itself: it reads framed requests on stdin and writes verdicts on stdout, so the
  proxy's event loop only pickles and pipes (no threads in the proxy contending for its GIL).
"""

from __future__ import annotations

import pickle
import sys


def serve_check_worker(policy_dir: str, encoder: bool = True) -> int:
    """Answer (id, (method, url, headers, body, max_bytes)) frames with (id, ok, result|error)."""
    from checker import check, load_policy
    from checker.neural import disable_encoders, warm_encoders
    from proxy_addon.addon import analyse

    policy = load_policy(policy_dir)
    if encoder:
        warm_encoders()  # before "ready", so the first post is not the slow one
    else:
        disable_encoders(policy)
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
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--check-worker" and sys.argv[3:] in ([], ["--no-encoder"]):
        sys.exit(serve_check_worker(sys.argv[2], encoder=sys.argv[3:] != ["--no-encoder"]))
    sys.exit("usage: python -m proxy_addon.main --check-worker POLICY_DIR [--no-encoder]  "
             "(or: mitmdump -s proxy_addon/main.py)")
else:
    from proxy_addon.addon import PostguardAddon

    addons = [PostguardAddon()]
