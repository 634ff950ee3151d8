"""`postguard proxy`: mitmproxy with the postguard add-on, decrypting only social media hosts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from postguard.cli import UsageError
from postguard.commands._common import add_policy_arg, policy_from

DEFAULT_LISTEN = "127.0.0.1:8080"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `proxy` parser."""
    p = sub.add_parser("proxy", help="run the checking proxy (mitmproxy + postguard add-on)",
                       description=__doc__)
    add_policy_arg(p)
    p.add_argument("--db", metavar="DB", help="interception log: SQLite path or postgresql:// URL "
                   "(default: $POSTGUARD_DB or ./var/postguard.sqlite)")
    p.add_argument("--listen", metavar="HOST:PORT", default=DEFAULT_LISTEN,
                   help=f"address to listen on (default {DEFAULT_LISTEN}; port 0 picks a free port)")
    p.add_argument("--confdir", metavar="DIR",
                   help="mitmproxy config dir holding the CA (default: $POSTGUARD_CONFDIR or ~/.mitmproxy)")
    p.add_argument("--set", dest="sets", metavar="NAME=VALUE", action="append", default=[],
                   help="a mitmproxy or postguard_* option, passed through (repeat for list options)")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors on the console")
    p.set_defaults(func=run)


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` -> (host, port); a UsageError naming the value otherwise."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen: expected HOST:PORT such as 127.0.0.1:8080 (got {value!r})")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    """Start the proxy and serve until interrupted."""
    from mitmproxy import exceptions

    host, port = parse_listen(args.listen)
    # Fail here, as a usage error, before anything listens; the add-on loads what it checks with.
    policy = policy_from(args, checks=False)
    for spec in args.sets:
        if "=" not in spec:
            raise UsageError(f"--set: expected NAME=VALUE (got {spec!r})")
    confdir = args.confdir or os.environ.get("POSTGUARD_CONFDIR") or "~/.mitmproxy"
    try:
        return asyncio.run(_serve(host, port, str(Path(confdir).expanduser()), args, policy))
    except exceptions.OptionsError as e:
        raise UsageError(str(e)) from None


async def _serve(host: str, port: int, confdir: str, args: argparse.Namespace, policy) -> int:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from proxy_addon.addon import PostguardAddon, social_hosts_regex

    # As mitmdump does: the root logger passes everything, the terminal log filters by verbosity.
    logging.getLogger().setLevel(logging.DEBUG)
    for noisy in ("asyncio", "hpack", "quic", "tornado"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    opts = options.Options(listen_host=host, listen_port=port, confdir=confdir)
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    if args.quiet:
        opts.update(termlog_verbosity="error")
    # postguard_* options exist only once the add-on is loaded: defer them, so the add-on's
    # first configure already sees the right policy and log (no default log file created).
    pg = [f"postguard_policy={policy.data.path}"]
    if args.db:
        pg.append(f"postguard_db={args.db}")
    opts.set(*pg, *args.sets, defer=True)
    if not opts.ignore_hosts:
        # Decrypt only the policy's social hosts, plus whatever the user allowed too.
        opts.update(allow_hosts=[social_hosts_regex(policy), *opts.allow_hosts])
    else:
        print("postguard proxy: ignore_hosts is set, so every other host is decrypted; "
              "prefer allow_hosts", file=sys.stderr)
    addon = PostguardAddon()
    master.addons.add(addon)
    # An OptionsError raised while deferred options are applied is rolled back and swallowed
    # by mitmproxy; validate once more so a bad value stops the start with its name.
    addon.configure(set(opts.keys()))
    # Options of `--set scripts=...` add-ons appear only once those load (asynchronously).
    if opts.deferred and not opts.scripts:
        raise UsageError(f"--set: unknown option(s): {', '.join(sorted(opts.deferred))}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    ca = Path(confdir) / "mitmproxy-ca-cert.pem"
    print(f"postguard proxy: policy {policy.data.slug} ({policy.digest}); decrypting "
          f"{len(policy.data.social['hosts'])} social domains only; CA certificate {ca}", flush=True)
    await master.run()
    return 0
