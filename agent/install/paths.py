"""The state folder's safety: paths others can change, entries that are not the agent's, the hand-over."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.install.common import HOME_TREES, InstallError


def unsafe_paths(paths: list[Path]) -> list[str]:
    """Why each path (the code, the policy) could be changed by an account other than root: a path
    or one of its parent folders not owned by root, or writable by its group or by others (a folder
    with the sticky bit excepted only for its own entries, as /tmp). Empty when all are safe."""
    problems: list[str] = []
    seen: set[Path] = set()
    todo = [path.absolute() for path in paths]
    todo += [path.resolve() for path in paths if path.resolve() != path.absolute()]  # where a link leads
    for p in todo:
        for q in [p, *p.parents]:
            if q in seen:
                continue
            seen.add(q)
            try:
                st = q.lstat()
            except FileNotFoundError:
                continue
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid != 0:
                problems.append(f"{q} is owned by uid {st.st_uid}, not root")
            elif stat.S_ISLNK(st.st_mode):
                continue  # a link's own mode means nothing; its owner and folder are checked
            elif mode & 0o022 and not (stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX and q != p):
                problems.append(f"{q} can be changed by its group or others (mode {mode:04o})")
    return problems


def _tree_unsafe(top: Path) -> list[str]:
    """unsafe_paths for a folder and everything in it."""
    found = unsafe_paths([top])
    if top.is_dir():
        for dirpath, dirnames, filenames in os.walk(top):
            for n in [*dirnames, *filenames]:
                q = Path(dirpath) / n
                st = q.lstat()
                if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o022:
                    found.append(f"{q} can be changed by an account other than root "
                                 f"(owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o})")
    return found


def _under_home(path: str) -> bool:
    return any(path == h or path.startswith(h + "/") for h in HOME_TREES)


STATE_NAMES = ("device.json", "device.key", "device.key.new", "queue.sqlite", "queue.sqlite-wal", "queue.sqlite-shm",
               "queue.sqlite-journal", "status.json", "agent.lock", "backend.token", "mitmproxy")


def foreign_entries(top: Path) -> list[str]:
    """What a folder holds at its top that is not the agent's (its own files, and the dot-named
    temporary files of its atomic writes): install refuses to hand such a folder to the account."""
    try:
        names = sorted(os.listdir(top))
    except FileNotFoundError:
        return []
    return [n for n in names if n not in STATE_NAMES and not n.startswith(".")]


def hand_over(top: Path, uid: int, gid: int) -> int:
    """Give a state folder and everything in it to the service account: folders 0700, files 0600.
    Walked by file descriptors and opened without following links (os.fwalk, O_NOFOLLOW), so a link
    put into the folder, even while this runs, cannot hand over a file outside it; a link or a
    special file is refused. Returns how many entries were handed over."""
    n = 0
    for _dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
        os.fchown(dirfd, uid, gid)
        os.fchmod(dirfd, 0o700)
        n += 1
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(_dirpath, d)))]:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dirfd)
            except OSError:
                raise InstallError(f"{_dirpath}/{name}: a symbolic link or unreadable entry in the state folder; "
                                   f"remove it and install again") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise InstallError(f"{_dirpath}/{name}: not a plain file; remove it and install again")
                os.fchown(fd, uid, gid)
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            n += 1
    return n
