"""How to run a target repo's Alembic against a given database: argv, env and cwd, and what the run did."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field, PrivateAttr

from orchestrator.config import DelegateConfig, read_ini, script_location
from orchestrator.errors import InputError
from orchestrator.runner.env import MEMORY_LIMIT_ENV, repo_env
from orchestrator.runner.process import PlainRunner, Runner
from orchestrator.runner.result import ProcessResult
from orchestrator.runner.zygote import ForkingRunner, Zygote
from orchestrator.verify._scratch_guard import ENV_NAME as SCRATCH_DATABASE_ENV
from orchestrator.verify._scratch_guard import WrongDatabase

DRIVER = Path(__file__).with_name("_alembic_driver.py")
_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')


class AlembicProject(BaseModel):
    """Where a repo's Alembic lives and which interpreter runs it; built once per run, reused by every step."""

    repo: Path
    ini: Path
    script_location: Path  # the alembic folder (env.py, versions/)
    cwd: Path  # the alembic folder's parent, as `cd api && alembic upgrade head` would use
    python: str
    versions_dir: Path
    timeout: float
    memory_limit_mb: int = 0
    _runner: Runner = PrivateAttr(default_factory=PlainRunner)

    @classmethod
    def for_repo(cls, repo: Path, cfg: DelegateConfig) -> AlembicProject:
        repo = repo.resolve()
        ini = (repo / cfg.alembic_ini).resolve()
        if not ini.is_file():
            raise InputError(f"{cfg.alembic_ini}: no Alembic config in {repo}", "set alembic_ini in [tool.delegate]")
        parser = _read_ini(ini)
        raw = parser.get("alembic", "script_location", fallback=None)
        if raw is None:
            raise InputError(
                f"{cfg.alembic_ini}: [alembic] has no script_location", "name the alembic folder in the config"
            )
        location = script_location(ini, raw, repo)
        python = cfg.python or sys.executable
        if shutil.which(python) is None and not Path(python).is_file():
            raise InputError(f"python = {python!r}: no such interpreter", "set python in [tool.delegate] to a path")
        return cls(
            repo=repo,
            ini=ini,
            script_location=location,
            cwd=location.parent,
            python=python,
            versions_dir=(repo / cfg.versions_dir).resolve(),
            timeout=cfg.timeout_seconds,
            memory_limit_mb=cfg.memory_limit_mb,
        )

    @property
    def env_py(self) -> Path:
        return self.script_location / "env.py"

    def rel(self, path: Path | str) -> str:
        try:
            return Path(path).resolve().relative_to(self.repo).as_posix()
        except ValueError:
            return str(path)

    def env(self, libpq_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The subprocess environment (runner/env.py): no secrets of ours, the scratch database as DATABASE_URL,
        the app importable (env.py may import it as a package from the alembic folder's parent or the root)."""
        values = scratch_env(libpq_url) if libpq_url is not None else {}
        if self.memory_limit_mb > 0:  # the runner applies it in the child (runner/env.py)
            values[MEMORY_LIMIT_ENV] = str(self.memory_limit_mb)
        return repo_env([self.cwd, self.ini.parent, self.repo], {**values, **(extra or {})})

    def launch(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult:
        """Run a command of the repo's interpreter: a fork of the zygote inside forking(), else a subprocess."""
        return self._runner.run(argv, env=env, cwd=cwd, timeout=timeout)

    @contextmanager
    def forking(self) -> Iterator[None]:
        """While inside, the repo's Python commands run as forks of one zygote that imported alembic, SQLAlchemy
        and the drivers once (zygote.py); it starts warming up at once, in the background."""
        if not Zygote.supported() or isinstance(self._runner, ForkingRunner):
            yield
            return
        zygote = Zygote(self.python, self.env(None), self.cwd)
        threading.Thread(target=zygote.start, name="delegate-zygote", daemon=True).start()
        plain, self._runner = self._runner, ForkingRunner(zygote)
        try:
            yield
        finally:
            self._runner = plain
            zygote.close()

    def write_ini(self, folder: Path, sqlalchemy_url: str | None) -> Path:
        """A copy of the repo's alembic.ini with %(here)s pinned to its real folder and the scratch URL set."""
        parser = _read_ini(self.ini)
        here = str(self.ini.parent).replace("%", "%%")
        for section in parser.sections():
            for key, value in parser.items(section):
                if "%(here)s" in value:
                    parser.set(section, key, value.replace("%(here)s", here))
        # Alembic reads a relative script_location from its working directory: pin the folder found for it.
        parser.set("alembic", "script_location", str(self.script_location).replace("%", "%%"))
        if sqlalchemy_url is not None:
            parser.set("alembic", "sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
        target = folder / "alembic.ini"
        with target.open("w", encoding="utf-8") as handle:
            parser.write(handle)
        return target

    def argv(self, ini: Path, events: Path, *args: str) -> list[str]:
        return [self.python, str(DRIVER), str(events), "-c", str(ini), *args]

    def run(
        self,
        args: list[str],
        sqlalchemy_url: str | None,
        libpq_url: str | None,
        timeout: float | None = None,
    ) -> AlembicRun:
        """Run one Alembic command (`upgrade head`, `downgrade X`, `upgrade A:B --sql`) in a subprocess."""
        with tempfile.TemporaryDirectory(prefix="delegate_alembic_") as tmp:
            folder = Path(tmp)
            ini = self.write_ini(folder, sqlalchemy_url)
            events_path = folder / "events.jsonl"
            events_path.touch()
            result = self.launch(
                self.argv(ini, events_path, *args),
                env=self.env(libpq_url),
                cwd=self.cwd,
                timeout=self.timeout if timeout is None else timeout,
            )
            events = [
                StepEvent.model_validate(json.loads(line)) for line in events_path.read_text().splitlines() if line
            ]
        refuse_other_database(result.stderr, self)
        return AlembicRun(command=" ".join(args), process=result, events=events)


def sqlalchemy_form(libpq_url: str) -> str:
    """postgresql://… -> postgresql+psycopg://… (what SQLAlchemy needs to pick psycopg 3), by the harness's parser."""
    from orchestrator.pg.address import ServerAddress

    return ServerAddress.parse(libpq_url).url(scheme="postgresql+psycopg")


def scratch_env(libpq_url: str) -> dict[str, str]:
    """The variables an env.py (or a delivered test) may build its database URL from, every one naming the
    scratch database: DATABASE_URL, libpq's PG*, and the POSTGRES_* / DB_* / SQLALCHEMY_DATABASE_URI settings
    that app configs read. DELEGATE_SCRATCH_DATABASE arms _scratch_guard.py against any other database."""
    from orchestrator.pg.address import ServerAddress

    address = ServerAddress.parse(libpq_url)
    host, port, user = address.host or "", str(address.port or 5432), address.user or ""
    password = address.password.get_secret_value() if address.password is not None else ""
    db = address.dbname
    sqlalchemy_url = sqlalchemy_form(libpq_url)
    values = {
        "DATABASE_URL": libpq_url,
        SCRATCH_DATABASE_ENV: db,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url,
        "SQLALCHEMY_DATABASE_URL": sqlalchemy_url,
    }
    for prefix, database in (("PG", "PGDATABASE"), ("POSTGRES_", "POSTGRES_DB"), ("DB_", "DB_NAME")):
        values.update({f"{prefix}HOST": host, f"{prefix}PORT": port, f"{prefix}USER": user, database: db})
        values[f"{prefix}PASSWORD"] = password
    values["POSTGRES_SERVER"] = host
    return {name: value for name, value in values.items() if value}


_WRONG_DATABASE = re.compile(rf"{WrongDatabase.__name__}: (?P<message>[^\n]+)")


def refuse_other_database(output: str, project: AlembicProject) -> None:
    """An InputError when _scratch_guard.py stopped env.py from migrating a database other than the scratch one."""
    match = _WRONG_DATABASE.search(output)
    if match is not None:
        raise InputError(
            f"{project.rel(project.env_py)}: {match['message']}",
            "make env.py take its URL from config.get_main_option('sqlalchemy.url') or from the environment "
            "(DATABASE_URL, PGHOST/PGDATABASE..., POSTGRES_SERVER/POSTGRES_DB..., DB_HOST/DB_NAME..., "
            "SQLALCHEMY_DATABASE_URI), which delegate points at a scratch database for every command",
        )


def _read_ini(path: Path) -> configparser.RawConfigParser:
    try:
        parser = read_ini(path)
    except configparser.Error as exc:
        raise InputError(f"{path}: not a valid ini file ({exc})", "fix the Alembic config's syntax") from None
    if not parser.has_section("alembic"):
        raise InputError(f"{path}: no [alembic] section", "point alembic_ini in [tool.delegate] at the Alembic config")
    return parser


class StepEvent(BaseModel):
    event: str  # start | end
    revision: str | None = None
    direction: str = "upgrade"
    ms: float | None = None


class AlembicRun(BaseModel):
    """One Alembic command: its process, and each revision step it started and finished (with times)."""

    command: str
    process: ProcessResult
    events: list[StepEvent] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.process.ok

    def finished(self) -> list[StepEvent]:
        return [e for e in self.events if e.event == "end"]

    def step_ms(self) -> dict[str, float]:
        return {e.revision: e.ms for e in self.finished() if e.revision and e.ms is not None}

    def failed_revision(self) -> str | None:
        """The revision whose step started but never ended: the one that raised or hung."""
        ended = {(e.revision, e.direction) for e in self.finished()}
        for event in reversed(self.events):
            if event.event == "start" and (event.revision, event.direction) not in ended:
                return event.revision
        return None

    def failure_location(self, project: AlembicProject) -> tuple[str | None, int | None]:
        """The deepest traceback frame inside the repo's alembic folder (a revision file, or env.py)."""
        text = self.process.stderr
        found: tuple[str | None, int | None] = (None, None)
        for match in _FRAME.finditer(text):
            path = Path(match["path"])
            try:
                path.resolve().relative_to(project.script_location)
            except (ValueError, OSError):
                try:
                    path.resolve().relative_to(project.versions_dir)
                except (ValueError, OSError):
                    continue
            found = (project.rel(path), int(match["line"]))
        return found

    def error_tail(self, lines: int = 8) -> str:
        if self.process.timed_out:
            return self.process.tail()
        kept = [
            line
            for line in self.process.stderr.strip().splitlines()
            if not line.startswith(("INFO  [alembic", "INFO [alembic", "(Background on this error at"))
        ]
        exception = _exception_of(kept)
        text = "\n".join((exception or kept)[-lines:]) or self.process.tail(lines)
        if text.startswith("MemoryError") or "\nMemoryError" in text:
            text += " (stopped by the memory limit: set memory_limit_mb in [tool.delegate] to allow more)"
        return text


def _exception_of(lines: list[str]) -> list[str]:
    """The exception a Python traceback ends with (its message may span lines, e.g. SQLAlchemy's [SQL: ...]),
    without the frames above it: the frames are the tool's and the libraries', the message is the user's."""
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if not frames:
        return []
    rest = lines[frames[-1] + 1 :]
    while rest and rest[0].startswith("    "):  # the frame's source line and its ^^^ markers
        rest = rest[1:]
    return [line for line in rest if line.strip()]
