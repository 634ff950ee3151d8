"""The service account: looking it up, and telling one install made from one it must leave alone."""

from __future__ import annotations

from dataclasses import dataclass

from agent.install.common import Options


@dataclass(frozen=True)
class Account:
    """A service account: its name and numeric ids."""

    name: str
    uid: int
    gid: int


def lookup_account(opts: Options, name: str) -> Account | None:
    """The account in the target's passwd (ROOT/etc/passwd under --root), or None."""
    if opts.root is None:
        import pwd

        try:
            p = pwd.getpwnam(name)
        except KeyError:
            return None
        return Account(name, p.pw_uid, p.pw_gid)
    try:
        lines = opts.on_disk("/etc/passwd").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        f = line.split(":")
        if len(f) >= 4 and f[0] == name:
            return Account(name, int(f[2]), int(f[3]))
    return None


SHARED_ACCOUNTS = ("nobody", "nfsnobody", "daemon", "bin", "sys")  # never the service's: others run as them


ACCOUNT_COMMENT = "postguard agent"  # the comment useradd gives the accounts install makes


def made_by_install(opts: Options, name: str) -> bool:
    """Whether the account carries the comment install gives the accounts it makes (so a purge after
    a reinstall still removes it, and never an account someone else made)."""
    if opts.root is None:
        import pwd

        try:
            return pwd.getpwnam(name).pw_gecos == ACCOUNT_COMMENT
        except KeyError:
            return False
    try:
        lines = opts.on_disk("/etc/passwd").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return False
    return any(f[0] == name and len(f) >= 5 and f[4] == ACCOUNT_COMMENT for f in (x.split(":") for x in lines))


def _valid_account_name(name: str) -> bool:
    return bool(name) and len(name) <= 32 and name[0] in "_abcdefghijklmnopqrstuvwxyz" and all(
        c.isascii() and (c.islower() or c.isdigit() or c in "_-") for c in name)
