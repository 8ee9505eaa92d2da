"""Synthetic Alembic histories for benchmarks and tests: N revisions of mixed DDL, optional branches, planted faults."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

FaultKind = Literal["downgrade-raises", "index-left", "enum-left", "policy-left"]
ALL_FAULTS: tuple[FaultKind, ...] = ("downgrade-raises", "index-left", "enum-left", "policy-left")

# The rule a live check must report for each planted fault.
FAULT_RULES: dict[FaultKind, str] = {
    "downgrade-raises": "downgrade-failed",
    "index-left": "downgrade-leaves-trace",
    "enum-left": "downgrade-leaves-trace",
    "policy-left": "downgrade-leaves-trace",
}

ALEMBIC_INI = """\
# Alembic configuration of a synthetic history; env.py reads the URL from DATABASE_URL.

[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
path_separator = os

sqlalchemy.url = postgresql+psycopg://postgres@localhost:5432/synthetic

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

ENV_PY = '''\
"""Alembic environment of a synthetic history: DATABASE_URL first, else alembic.ini's sqlalchemy.url."""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url") or ""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from alembic import op
import sqlalchemy as sa

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

REVISION_TEMPLATE = '''\
"""{message}

Revision ID: {revision}
Revises: {revises}
"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


@dataclass
class PlantedFault:
    """A revision whose downgrade is broken on purpose, and what a checker must say about it."""

    revision: str
    file: str  # relative to the repo root (or to the versions folder's parent when no repo was given)
    kind: FaultKind
    rule: str  # the live rule that must fire
    objects: list[str]  # the database objects the finding must name (empty for a refusing downgrade)
    message: str = ""  # the text the refusing downgrade raises with


@dataclass
class HistoryInfo:
    """What write_history wrote: revisions parents first, the feature on top, and the planted faults."""

    versions_dir: Path
    revisions: list[str]  # topological: every revision after its parents
    files: dict[str, str]  # revision -> file, relative like PlantedFault.file
    parents: dict[str, tuple[str, ...]]
    head: str
    base_revision: str | None  # the revision just below the feature (None when the feature is the whole history)
    feature_revisions: list[str]  # the last `feature` revisions of the main line
    merges: list[str] = field(default_factory=list)
    faults: list[PlantedFault] = field(default_factory=list)

    def fault(self, revision: str) -> PlantedFault | None:
        return next((f for f in self.faults if f.revision == revision), None)


def write_repo(root: Path) -> Path:
    """Write a minimal Alembic repo in the default layout (api/alembic.ini, api/alembic/{env.py,versions/}).

    Returns the versions folder. Existing revision files in it are left alone.
    """
    api = root / "api"
    versions = api / "alembic" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (api / "alembic.ini").write_text(ALEMBIC_INI, encoding="utf-8")
    (api / "alembic" / "env.py").write_text(ENV_PY, encoding="utf-8")
    (api / "alembic" / "script.py.mako").write_text(SCRIPT_MAKO, encoding="utf-8")
    return versions


def revision_id(seed: int, index: int) -> str:
    """A 12-hex revision id that looks like Alembic's own (random-looking, not sequential)."""
    return hashlib.sha256(f"synthetic-{seed}-{index}".encode()).hexdigest()[:12]


@dataclass
class _Line:
    """What one line of development (the main line or a branch) has created so far."""

    tables: list[str]
    rls_tables: set[str]


def _indent(lines: Iterable[str]) -> str:
    body = [f"    {line}" for line in lines]
    return "\n".join(body) if body else "    pass"


def _sql(statement: str) -> str:
    return f"op.execute({statement!r})"


def _plan(
    kind: str, n: int, line: _Line, rng: random.Random, fault: FaultKind | None
) -> tuple[str, list[str], list[str], list[str], str]:
    """The upgrade and downgrade bodies of revision number n: (message, upgrade, downgrade, objects, raise text)."""
    tag = f"{n:04d}"
    table = rng.choice(line.tables) if line.tables else None
    if fault == "downgrade-raises":
        col = f"note_{tag}"
        text = f"dropping {table}.{col} would lose data"
        # A downgrade that tries and then fails (downgrade-failed); one that only raises is irreversible on purpose.
        return (
            f"add {table}.{col} (a downgrade that fails)",
            [f"op.add_column({table!r}, sa.Column({col!r}, sa.Text(), nullable=True))"],
            [f"op.drop_column({table!r}, {col!r})", f"raise RuntimeError({text!r})"],
            [],
            text,
        )
    if fault == "index-left":
        col, ix = f"flag_{tag}", f"ix_{table}_created_{tag}"
        return (
            f"add {table}.{col} and index {ix}",
            [
                f"op.add_column({table!r}, sa.Column({col!r}, sa.Boolean(), nullable=True))",
                f"op.create_index({ix!r}, {table!r}, ['created_at'])",
            ],
            [f"op.drop_column({table!r}, {col!r})"],  # forgets the index on created_at
            [ix],
            "",
        )
    if fault == "enum-left":
        enum, col = f"state_{tag}", f"state_{tag}"
        return (
            f"add enum {enum} and {table}.{col}",
            [
                _sql(f"CREATE TYPE {enum} AS ENUM ('draft', 'live', 'gone')"),
                _sql(f"ALTER TABLE {table} ADD COLUMN {col} {enum}"),
            ],
            [_sql(f"ALTER TABLE {table} DROP COLUMN {col}")],  # forgets DROP TYPE
            [enum],
            "",
        )
    if fault == "policy-left":
        col, pol = f"shared_{tag}", f"{table}_read_{tag}"
        return (
            f"add {table}.{col} and policy {pol}",
            [
                f"op.add_column({table!r}, sa.Column({col!r}, sa.Boolean(), nullable=True))",
                _sql(f"CREATE POLICY {pol} ON {table} FOR SELECT USING (owner_id IS NOT NULL)"),
            ],
            [f"op.drop_column({table!r}, {col!r})"],  # forgets DROP POLICY
            [pol],
            "",
        )
    if kind == "table" or table is None:
        name = f"t_{tag}"
        line.tables.append(name)
        return (
            f"create table {name}",
            [
                f"op.create_table({name!r},",
                "    sa.Column('id', sa.Uuid(), primary_key=True, server_default=sa.text('gen_random_uuid()')),",
                "    sa.Column('owner_id', sa.Uuid(), nullable=False),",
                "    sa.Column('title', sa.Text(), nullable=False),",
                "    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()')),",
                ")",
            ],
            [f"op.drop_table({name!r})"],
            [name],
            "",
        )
    if kind == "column":
        col = f"c_{tag}"
        return (
            f"add column {table}.{col}",
            [f"op.add_column({table!r}, sa.Column({col!r}, sa.Text(), nullable=True))"],
            [f"op.drop_column({table!r}, {col!r})"],
            [col],
            "",
        )
    if kind == "index":
        ix = f"ix_{table}_title_{tag}"
        return (
            f"index {ix}",
            [f"op.create_index({ix!r}, {table!r}, ['title'])"],
            [f"op.drop_index({ix!r}, table_name={table!r})"],
            [ix],
            "",
        )
    if kind == "enum":
        enum, col = f"kind_{tag}", f"kind_{tag}"
        return (
            f"enum {enum} on {table}",
            [
                _sql(f"CREATE TYPE {enum} AS ENUM ('a', 'b', 'c')"),
                _sql(f"ALTER TABLE {table} ADD COLUMN {col} {enum} NOT NULL DEFAULT 'a'"),
            ],
            [_sql(f"ALTER TABLE {table} DROP COLUMN {col}"), _sql(f"DROP TYPE {enum}")],
            [enum],
            "",
        )
    if kind == "rls":
        pol = f"{table}_owner_{tag}"
        up = [_sql(f"CREATE POLICY {pol} ON {table} USING (owner_id = current_setting('app.uid', true)::uuid)")]
        down = [_sql(f"DROP POLICY {pol} ON {table}")]
        if table not in line.rls_tables:
            line.rls_tables.add(table)
            up.insert(0, _sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
            down.append(_sql(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"))
        return (f"policy {pol}", up, down, [pol], "")
    if kind == "function":
        fn = f"fn_{tag}"
        return (
            f"function {fn}",
            [_sql(f"CREATE FUNCTION {fn}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x + {n}'")],
            [_sql(f"DROP FUNCTION {fn}(integer)")],
            [fn],
            "",
        )
    if kind == "trigger":
        fn, trg = f"trim_title_{tag}", f"trg_{table}_{tag}"
        body = "BEGIN NEW.title := btrim(NEW.title); RETURN NEW; END"
        return (
            f"trigger {trg}",
            [
                _sql(f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $f$ {body} $f$"),
                _sql(f"CREATE TRIGGER {trg} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()"),
            ],
            [_sql(f"DROP TRIGGER {trg} ON {table}"), _sql(f"DROP FUNCTION {fn}()")],
            [trg, fn],
            "",
        )
    # check constraint
    ck = f"ck_{table}_title_{tag}"
    return (
        f"check {ck}",
        [f"op.create_check_constraint({ck!r}, {table!r}, 'length(title) < {1000 + n}')"],
        [f"op.drop_constraint({ck!r}, {table!r}, type_='check')"],
        [ck],
        "",
    )


_KINDS = ("table", "column", "index", "enum", "rls", "function", "trigger", "check")
_WEIGHTS = (3, 4, 3, 1, 2, 1, 1, 1)


def write_history(
    folder: Path,
    n_revisions: int,
    feature: int = 3,
    faults: Iterable[FaultKind] | Mapping[int, FaultKind] = ALL_FAULTS,
    branches: int = 0,
    seed: int = 0,
    repo: Path | None = None,
) -> HistoryInfo:
    """Write n_revisions revision files into `folder` (a versions folder) and say what they are.

    - feature: the last `feature` revisions of the main line form the feature (HistoryInfo.feature_revisions);
      no branch or fault is placed inside it unless a fault's position says so.
    - faults: fault kinds spread evenly over the history below the feature, or {revision number: kind}.
    - branches: how many fork-and-merge diamonds (two branches of two revisions each, then a merge revision).
    - repo: file names in the result are relative to it (default: the parent of the `alembic` folder's parent).
    """
    if n_revisions < 1:
        raise ValueError("n_revisions must be at least 1")
    folder.mkdir(parents=True, exist_ok=True)
    root = repo if repo is not None else folder.parent.parent.parent
    rng = random.Random(seed)
    below = max(n_revisions - feature, 1)
    if isinstance(faults, Mapping):
        fault_at: dict[int, FaultKind] = dict(faults)
    else:
        kinds = list(faults)
        # Faults sit after the first few revisions (they need tables to act on) and below the feature.
        fault_at = {max(2, below * (k + 1) // (len(kinds) + 1)): kind for k, kind in enumerate(kinds)}
    # A diamond takes 5 revision numbers: fork children a1, a2 | b1, b2, then the merge.
    diamond_at: list[int] = []
    if branches:
        span = below - 4
        step = max(span // (branches + 1), 6)
        diamond_at = [4 + step * (k + 1) for k in range(branches) if 4 + step * (k + 1) + 5 <= below]

    info = HistoryInfo(
        versions_dir=folder,
        revisions=[],
        files={},
        parents={},
        head="",
        base_revision=None,
        feature_revisions=[],
    )
    main = _Line(tables=[], rls_tables=set())

    def emit(n: int, down: tuple[str, ...], line: _Line, kind: str | None = None) -> str:
        rev = revision_id(seed, n)
        fault = fault_at.get(n)
        up: list[str] = []
        dn: list[str] = []
        objects: list[str] = []
        text = ""
        if kind == "merge":
            message = f"merge {' and '.join(down)}"
        else:
            chosen = kind or rng.choices(_KINDS, _WEIGHTS)[0]
            if n < 2:
                chosen, fault = "table", None
            message, up, dn, objects, text = _plan(chosen, n, line, rng, fault)
        down_revision: str | tuple[str, ...] | None = None if not down else down[0] if len(down) == 1 else down
        path = folder / f"{n:04d}_{rev}_{message.split()[0]}.py"
        path.write_text(
            REVISION_TEMPLATE.format(
                message=message,
                revision=rev,
                revises=", ".join(down),
                down_revision=down_revision,
                upgrade=_indent(up),
                downgrade=_indent(dn),
            ),
            encoding="utf-8",
        )
        rel = _relative(path, root)
        info.revisions.append(rev)
        info.files[rev] = rel
        info.parents[rev] = down
        if kind == "merge":
            info.merges.append(rev)
        if fault is not None and kind != "merge":
            info.faults.append(
                PlantedFault(revision=rev, file=rel, kind=fault, rule=FAULT_RULES[fault], objects=objects, message=text)
            )
        return rev

    head: tuple[str, ...] = ()
    n = 0
    while n < n_revisions:
        if n in diamond_at and n + 5 <= below:
            fork = head
            ends: list[str] = []
            for b in range(2):
                branch = _Line(tables=list(main.tables), rls_tables=set(main.rls_tables))
                tip = fork
                for k in range(2):
                    # Branch revisions create their own tables, so the two branches never touch the same object.
                    tip = (emit(n + 2 * b + k, tip, branch, "table" if k == 0 else None),)
                main.tables.extend(t for t in branch.tables if t not in main.tables)
                main.rls_tables |= branch.rls_tables
                ends.append(tip[0])
            head = (emit(n + 4, tuple(ends), main, "merge"),)
            n += 5
            continue
        head = (emit(n, head, main),)
        n += 1
    info.head = head[0]
    feature_n = min(feature, n_revisions)
    info.feature_revisions = info.revisions[n_revisions - feature_n :] if feature_n else []
    info.base_revision = info.revisions[n_revisions - feature_n - 1] if n_revisions > feature_n else None
    return info


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def write_synthetic_repo(root: Path, n_revisions: int, **kwargs: object) -> HistoryInfo:
    """A complete repo at `root` in the default layout, holding a synthetic history (kwargs go to write_history)."""
    versions = write_repo(root)
    return write_history(versions, n_revisions, repo=root, **kwargs)  # type: ignore[arg-type]
