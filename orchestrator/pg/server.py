"""A PostgreSQL server to create scratch databases on: one named by a URL, or a throwaway one we start and always stop."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

import psycopg
from psycopg import sql

from orchestrator.errors import InputError
from orchestrator.pg.address import ServerAddress, _first_line
from orchestrator.pg.binaries import Account, PostgresBinaries, RunAs, find_runnable
from orchestrator.pg.names import SCRATCH_PREFIX, TEMPLATE_PREFIX, drop_database_on, sweep_stale_on
from orchestrator.runner.env import clean_env
from orchestrator.runner.process import pid_alive

CONNECT_TIMEOUT_S = 5
# Settings that trade durability for speed: a throwaway server's data is worthless after the run.
_FAST_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


class PostgresServer:
    """A server the tool may create and drop databases on; it never changes the maintenance database itself."""

    def __init__(self, address: ServerAddress, cluster: ThrowawayCluster | None = None) -> None:
        self.address = address
        self._cluster = cluster
        self._closed = False
        self.version_num = 0
        self._admin: psycopg.Connection | None = None
        self._admin_pid = 0
        self._admin_lock = threading.RLock()
        _LIVE_SERVERS.add(self)

    # ---- addresses -------------------------------------------------------------------------------------
    @property
    def admin_url(self) -> str:
        """libpq URI of the maintenance database (the one the URL named, else `postgres`)."""
        return self.address.url()

    @property
    def description(self) -> str:
        """The server for messages: its URL with the password replaced (and, if throwaway, which PostgreSQL)."""
        if self._cluster is not None:
            return f"throwaway PostgreSQL {self._cluster.binaries.major} at {self.address.description}"
        return self.address.description

    @property
    def is_throwaway(self) -> bool:
        return self._cluster is not None

    def url_for(self, dbname: str) -> str:
        return self.address.url(dbname)

    def sqlalchemy_url_for(self, dbname: str) -> str:
        return self.address.url(dbname, scheme="postgresql+psycopg")

    # ---- databases -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def admin_connection(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE cannot run in a transaction).

        One connection is kept and lent to one caller at a time, since a fresh connection per clone costs as much
        as half the clone; a caller that finds it lent out gets a connection of its own instead of waiting. Do not
        close it; an error while lent discards it, and the next caller reconnects.
        """
        if not self._admin_lock.acquire(blocking=False):
            with self.new_admin_connection() as own:
                yield own
            return
        try:
            conn = self._admin
            if conn is None or conn.closed or conn.broken or self._admin_pid != os.getpid():
                conn = self._admin = connect(self.admin_url, self.description)
                self._admin_pid = os.getpid()
            try:
                yield conn
            except BaseException:
                self._discard_admin()
                raise
        finally:
            self._admin_lock.release()

    def new_admin_connection(self) -> psycopg.Connection:
        """A separate autocommit connection to the maintenance database, for a caller that holds it long (locks)."""
        return connect(self.admin_url, self.description)

    def _discard_admin(self) -> None:
        conn, self._admin = self._admin, None
        if conn is not None and self._admin_pid == os.getpid():
            with contextlib.suppress(Exception):
                conn.close()

    def create_database(self, name: str, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.admin_connection() as conn:
            conn.execute(statement)

    def drop_database(self, name: str) -> None:
        """Drop `name` if it exists, ending its connections first; a missing database is not an error."""
        with self.admin_connection() as conn:
            drop_database_on(conn, name, self.version_num)

    def database_exists(self, name: str) -> bool:
        with self.admin_connection() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None

    # ---- lifetime --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop and remove a throwaway server; a server named by URL is left as it was. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        _LIVE_SERVERS.discard(self)
        self._discard_admin()
        if self._cluster is not None:
            self._cluster.destroy()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresServer({self.description})"


def connect(url: str, description: str, *, dbname_hint: str | None = None) -> psycopg.Connection:
    """An autocommit connection, or InputError naming the server (never its password) and the cause."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        cause = _first_line(str(exc))
        raise InputError(
            f"cannot connect to PostgreSQL at {description}{f' (database {dbname_hint})' if dbname_hint else ''}: {cause}",
            "start the server or fix --database-url / DATABASE_URL; without a URL delegate starts a throwaway server",
        ) from None


# ---- throwaway servers -------------------------------------------------------------------------------------

# Where the throwaway server's folder goes; by default a RAM-backed tmpfs when there is room, since its data is
# worthless after the run and file creation/deletion (every CREATE/DROP DATABASE) is several times faster there.
TMPDIR_ENV = "DELEGATE_PG_TMPDIR"
_SHM = Path("/dev/shm")
_SHM_MIN_FREE = 2 * 1024**3


def scratch_parent() -> str:
    """The folder to create the throwaway server's temp folder in: DELEGATE_PG_TMPDIR, /dev/shm, or the temp dir."""
    override = os.environ.get(TMPDIR_ENV, "").strip()
    if override:
        return override
    try:
        usage = shutil.disk_usage(_SHM)
        # Sticky world-writable, as tmpfs /dev/shm is: the unprivileged server account can use its folder there.
        if _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK) and usage.free >= _SHM_MIN_FREE:
            return str(_SHM)
    except OSError:
        pass
    return tempfile.gettempdir()


class ThrowawayCluster:
    """A data folder in a temp dir and the postmaster serving it; `destroy()` stops it and removes the folder."""

    def __init__(self, binaries: PostgresBinaries, account: Account | None) -> None:
        self.binaries = binaries
        self.account = account
        self.run_as = RunAs.of(account)
        self.root = Path(tempfile.mkdtemp(prefix="delegate-pg-", dir=scratch_parent()))
        self.datadir = self.root / "data"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._destroyed = False
        self._lock = threading.Lock()
        try:
            # Who owns the folder: a later run removes it (and stops its server) once this process is gone.
            (self.root / OWNER_FILE).write_text(f"{os.getpid()}\n")
        except OSError:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the server account; a hang or a missing program is an InputError."""
        try:
            return self._run_unchecked(args, timeout)
        except subprocess.TimeoutExpired:
            raise InputError(
                f"{Path(args[0]).name} did not finish within {timeout:.0f} s",
                "pass --database-url for a running server",
            ) from None
        except OSError as exc:
            raise InputError(f"cannot run {args[0]}: {exc}", "pass --database-url for a running server") from None

    def _run_unchecked(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
            env=clean_env({"LC_ALL": "C", "LANG": "C", "TZ": "UTC"}),
            user=self.run_as.user,
            group=self.run_as.group,
            extra_groups=self.run_as.extra_groups,
        )

    def _initdb_args(self, datadir: Path) -> list[str]:
        args = [self.binaries.path("initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"]
        args += ["-E", "UTF8", "--locale=C", "--no-sync"]
        if self.binaries.major >= 13:
            args.append("--no-instructions")
        return args

    def init(self) -> None:
        """Create the data folder: a copy of a cached fresh initdb (fast), or initdb itself when that fails."""
        if self.account is not None:
            # Only the folder we just created changes owner; nothing else on the system is touched.
            os.chown(self.root, self.account.uid, self.account.gid)
        skeleton = None if os.environ.get(NO_SKELETON_ENV, "").strip() not in ("", "0") else self._skeleton()
        if skeleton is not None:
            try:
                copied = self._run_unchecked(["cp", "-a", str(skeleton), str(self.datadir)], timeout=120)
                if copied.returncode == 0:
                    return
            except (OSError, subprocess.SubprocessError):
                pass  # no cp here: initdb below does the same job, slower
            shutil.rmtree(self.datadir, ignore_errors=True)
        out = self._run(self._initdb_args(self.datadir), timeout=120)
        if out.returncode != 0:
            raise InputError(
                f"initdb ({self.binaries.bindir}) failed: {_first_line(out.stderr or out.stdout)}",
                "pass --database-url for a running server, or reinstall PostgreSQL",
            )

    def _skeleton(self) -> Path | None:
        """A fresh data folder made once by initdb and kept in the temp dir: copying it is ~7x faster than initdb.

        Keyed by the binaries and the account; built under a temporary name and renamed, so concurrent runs never
        copy half of one. Used only if it belongs to the account that will run it and nobody else may write to it.
        """
        uid = self.account.uid if self.account is not None else os.geteuid()
        postgres = Path(self.binaries.path("postgres"))
        try:
            identity = f"{_SKELETON_VERSION}:{postgres.resolve()}:{postgres.stat().st_mtime_ns}:{uid}"
        except OSError:
            return None
        final = Path(tempfile.gettempdir()) / f"delegate-pgskel-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
        if not final.exists():
            partial = Path(tempfile.mkdtemp(prefix=f"{final.name}.partial-", dir=final.parent))
            try:
                if self.account is not None:
                    os.chown(partial, self.account.uid, self.account.gid)
                if self._run(self._initdb_args(partial / "data"), timeout=120).returncode != 0:
                    return None
                with contextlib.suppress(OSError):  # another run made it first
                    partial.rename(final)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        try:
            info = final.lstat()
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        data = final / "data"
        return data if (data / "PG_VERSION").is_file() else None

    def start(self) -> None:
        """Start the postmaster on a free loopback port with its socket in our folder; retry if the port is taken."""
        last_error = ""
        for _ in range(3):
            self.port = _free_port()
            options: list[str] = []
            for key, value in {**_FAST_SETTINGS, "port": str(self.port)}.items():
                options += ["-c", f"{key}={value}"]
            options += ["-c", f"unix_socket_directories={self.root}"]
            log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - handed to the child, closed below
            try:
                self.process = subprocess.Popen(
                    [self.binaries.path("postgres"), "-D", str(self.datadir), *options],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.root,
                    env=clean_env({"LC_ALL": "C", "LANG": "C", "TZ": "UTC"}),
                    # Own session: a Ctrl-C in the terminal reaches us, and we stop the server ourselves.
                    start_new_session=True,
                    user=self.run_as.user,
                    group=self.run_as.group,
                    extra_groups=self.run_as.extra_groups,
                )
            finally:
                log.close()
            if self._wait_ready(timeout=30):
                return
            last_error = self._log_tail()
            self._stop_process()
        raise InputError(
            f"the throwaway PostgreSQL ({self.binaries.bindir}) did not start: {last_error}",
            "pass --database-url for a running server",
        )

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                psycopg.connect(url, connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.01)
        return False

    def _log_tail(self) -> str:
        try:
            lines = (self.root / "postgres.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    def _stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # SIGQUIT is PostgreSQL's immediate shutdown (what `pg_ctl stop -m immediate` sends): no checkpoint.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
            try:
                self._stop_process()
            finally:
                shutil.rmtree(self.root, ignore_errors=True)


OWNER_FILE = "owner.pid"
# Set to 1 to run initdb for every throwaway server instead of copying the cached one.
NO_SKELETON_ENV = "DELEGATE_PG_NO_SKELETON"
# Part of the skeleton cache key: bump it when the initdb arguments change.
_SKELETON_VERSION = "1"


def _running(pid: int) -> bool:
    """Alive and not a zombie: an orphan that exits may wait a long time for an init that reaps slowly."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid_alive(pid)
    return state not in ("Z", "X")


def sweep_orphan_clusters() -> list[Path]:
    """Stop and remove throwaway servers whose owning process died without cleaning up (SIGKILL, power loss).

    Only folders we made (delegate-pg-* with an owner file) whose owner pid is gone; the postmaster is signalled
    only if its command line names that folder, so a recycled pid is never hit.
    """
    removed: list[Path] = []
    for parent in {scratch_parent(), tempfile.gettempdir()}:
        for folder in Path(parent).glob("delegate-pg-*"):
            try:
                owner = int((folder / OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                continue
            if pid_alive(owner):
                continue
            try:
                postmaster = int((folder / "data" / "postmaster.pid").read_text().splitlines()[0])
                cmdline = Path(f"/proc/{postmaster}/cmdline").read_bytes().decode(errors="replace")
                if str(folder) in cmdline:
                    os.kill(postmaster, signal.SIGQUIT)
                    for _ in range(100):
                        if not _running(postmaster):
                            break
                        time.sleep(0.01)
                    else:
                        os.kill(postmaster, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_throwaway_server() -> PostgresServer:
    """initdb + start a server in a temp folder; InputError (what to install) when no binaries can run here."""
    binaries, account = find_runnable()
    sweep_orphan_clusters()
    cluster = ThrowawayCluster(binaries, account)
    install_signal_cleanup()
    server: PostgresServer | None = None
    try:
        cluster.init()
        cluster.start()
        address = ServerAddress(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres")
        server = PostgresServer(address, cluster)
        server.version_num = _server_version(server)
        return server
    except BaseException:
        if server is not None:
            server.close()
        cluster.destroy()
        raise


def _server_version(server: PostgresServer) -> int:
    with server.admin_connection() as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    return int(row[0]) if row else 0


def open_server(database_url: str | None) -> PostgresServer:
    """The server at `database_url` (checked: reachable, may CREATE DATABASE), or a throwaway one when None."""
    if database_url is None:
        return start_throwaway_server()
    address = ServerAddress.parse(database_url)
    server = PostgresServer(address)
    probe = (
        "SELECT current_setting('server_version_num')::int, current_user, rolcreatedb OR rolsuper "
        "FROM pg_roles WHERE rolname = current_user"
    )
    try:
        try:
            with server.admin_connection() as conn:
                row = conn.execute(probe).fetchone()
        except InputError as exc:
            # The URL names the server; its database may not exist yet (an app's own db): use `postgres` instead.
            if address.dbname == "postgres" or f'database "{address.dbname}" does not exist' not in exc.message:
                raise
            server.address = address.with_dbname("postgres")
            with server.admin_connection() as conn:
                row = conn.execute(probe).fetchone()
        if row is None or not row[2]:
            who = row[1] if row else address.user
            raise InputError(
                f"the role {who!r} at {server.description} may not create databases, "
                "and delegate works only in scratch databases it creates",
                f"ALTER ROLE {who} CREATEDB (as a superuser), or pass a URL of a role that has CREATEDB",
            )
        server.version_num = int(row[0])
        _sweep_leftovers(server)
    except BaseException:
        server.close()
        raise
    return server


def _sweep_leftovers(server: PostgresServer) -> None:
    """Drop scratch and half-built template databases that dead runs of this host left on a shared server."""
    with contextlib.suppress(psycopg.Error), server.admin_connection() as conn:
        for prefix in (SCRATCH_PREFIX, f"{TEMPLATE_PREFIX}_build"):
            sweep_stale_on(conn, server.version_num, prefix)


# ---- cleanup at exit and on signals ---------------------------------------------------------------------------

_LIVE_SERVERS: weakref.WeakSet[PostgresServer] = weakref.WeakSet()
_SIGNALS_INSTALLED = False


def close_all_servers() -> None:
    """Stop every throwaway server still running in this process (atexit and signal handlers call it)."""
    for server in list(_LIVE_SERVERS):
        with contextlib.suppress(Exception):
            server.close()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwind like an exit: `with` blocks drop their scratch databases, then atexit stops the servers.
    raise SystemExit(128 + signum)


def install_signal_cleanup() -> None:
    """Make SIGTERM/SIGHUP unwind like SIGINT does, so cleanup runs; SIGINT keeps raising KeyboardInterrupt (exit 130)."""
    global _SIGNALS_INSTALLED
    if _SIGNALS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    _SIGNALS_INSTALLED = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        # Respect a handler someone else installed on purpose.
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_sigterm)


atexit.register(close_all_servers)
