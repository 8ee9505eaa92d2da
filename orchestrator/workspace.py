"""The agent's sandbox: a git worktree on a new branch, and the path guard every file tool goes through.

The agent is untrusted input. Everything it names is a repo-relative path that must survive the guard below
before a byte is read or written: reads reach only the repo's tracked files and the files the agent wrote in this
session (never `.git`, never secret-looking files: whatever is read goes to the model provider), writes reach only
the allowed folders, no symlink is ever followed, and content is bounded UTF-8 text. The user's own working tree,
index and branch are never touched: the worktree is made from HEAD with `git worktree add -b`.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from orchestrator.errors import InputError

DEFAULT_AUTHOR = ("delegate", "delegate@localhost")

# Hooks of the user's repo would run code (theirs, on the agent's files) inside our process tree at checkout, ref
# updates and commit; signing could stop at a passphrase prompt. A person reviews, and may re-sign, the branch.
_GIT_SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")

_MAX_PATH_CHARS = 400
_MAX_COMPONENT_BYTES = 255
_LIST_LIMIT = 500

# Windows and macOS read these as something else (drive letters, streams, 8.3 short names like GIT~1): refused
# everywhere so a repo checked out there later cannot be surprised by what the agent named.
_FORBIDDEN_CHARS = set('\\:*?"<>|~')

# Secret-looking names, matched against casefolded path components. Their content would go to the model provider
# if read; writing them is refused too (the agent has no reason to, and could not read them back).
_SECRET_DIR = re.compile(r"^\.(?:ssh|aws|gnupg|azure|kube|docker|password-store)$")
_SECRET_FILE = re.compile(
    r"""^(?:
        \.env.* | .+\.env                                   # .env, .env.local, .envrc, prod.env
      | .+\.(?:pem|key|p12|pfx|jks|keystore|kdbx|ppk|gpg|pgp|age|tfstate|tfvars|ovpn)
      | id_(?:rsa|dsa|ecdsa|ed25519)(?:\..*)?                # ssh keys and their .pub twins
      | \.(?:netrc|pgpass|npmrc|pypirc|htpasswd|git-credentials|dockercfg|s3cfg|boto|my\.cnf)
      | (?:secrets?|credentials?|private[._-]?key|service[._-]?account)(?:[._-].*)?   # secrets.toml, credentials
    )$""",
    re.VERBOSE,
)
# The same words inside a longer name (db_credentials.json) are secret-looking too, except in the source files a
# feature is made of: a migration may well be called 0042_add_api_secrets.py.
_SECRET_WORD = re.compile(r"(?:^|[._-])(?:secrets?|credentials?|private[._-]?key|service[._-]?account)(?:[._-]|$)")
_SOURCE_SUFFIXES = (".py", ".sql", ".md")
# Content that is a credential whatever the file is called.
_SECRET_CONTENT = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\bsk-ant-[A-Za-z0-9_-]{16,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}"
)


class ToolRefused(Exception):
    """A tool call the sandbox refuses: the message names the path, says why and what is allowed."""


class WorkspaceError(InputError):
    """The workspace could not be made or committed: not a git repo, no commit yet, a branch that exists."""


@dataclass(frozen=True)
class SandboxLimits:
    """Bounds on what one agent session may write."""

    max_file_bytes: int = 256 * 1024
    max_files_written: int = 200


def _describe(path: object) -> str:
    """The path as the agent sent it, quoted and shortened, safe to put in a message."""
    if not isinstance(path, str):
        return repr(path)[:60]
    return repr(path[:120] + ("…" if len(path) > 120 else ""))


def normalise_path(path: object, *, folder: bool = False) -> str:
    """The repo-relative POSIX form of a path the agent sent, or ToolRefused saying why it is not one. A `folder`
    may be the root ('' or '.'), and its last name is judged as a folder's (specs/042-secret-sharing is fine).

    Only the lexical checks live here (no filesystem access): type, characters, absolute and home paths, `..`,
    `.git` in any case or Unicode disguise, secret-looking names. Symlinks are checked against the disk later.
    """
    shown = _describe(path)
    if not isinstance(path, str):
        raise ToolRefused(f"path {shown} is not a string: send a repo-relative path such as 'api/alembic/versions'")
    if len(path) > _MAX_PATH_CHARS:
        raise ToolRefused(f"path {shown} is longer than {_MAX_PATH_CHARS} characters: use a shorter repo-relative path")
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in path):
        raise ToolRefused(
            f"path {shown} contains a control, format or unusual space character: use plain printable characters"
        )
    if unicodedata.normalize("NFKC", path) != path:
        raise ToolRefused(
            f"path {shown} contains characters that stand for others (full-width or compatibility forms): "
            "spell it with ordinary characters"
        )
    bad = sorted(set(path) & _FORBIDDEN_CHARS)
    if bad:
        raise ToolRefused(
            f"path {shown} contains {' '.join(repr(c) for c in bad)}: home folders (~), backslashes and drive or "
            "stream separators are not allowed; use a repo-relative path with '/' between folders"
        )
    if path.startswith("/"):
        raise ToolRefused(f"path {shown} is absolute: paths are relative to the repository root, e.g. 'specs'")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        if folder:
            return ""
        raise ToolRefused(f"path {shown} names no file: give a repo-relative file path")
    for part in parts:
        if set(part) == {"."}:
            raise ToolRefused(f"path {shown} climbs out with '{part}': paths stay inside the repository, without '..'")
        if part != part.strip(" ") or part.endswith("."):
            raise ToolRefused(f"path {shown} has a name that ends or starts with a space or ends with a dot: rename it")
        if len(part.encode("utf-8")) > _MAX_COMPONENT_BYTES:
            raise ToolRefused(f"path {shown} has a name longer than {_MAX_COMPONENT_BYTES} bytes: shorten it")
        if part.casefold() == ".git":
            raise ToolRefused(f"path {shown} goes through .git: git's own files are never read or written")
    if _secret_looking(parts, folder=folder):
        raise ToolRefused(
            f"path {shown} looks like a secret or credential file: such files are never read or written, since "
            "what you read is sent to the model provider"
        )
    return "/".join(parts)


def _secret_looking(parts: Sequence[str], *, folder: bool) -> bool:
    folded = [p.casefold() for p in parts]
    if any(_SECRET_DIR.match(p) for p in (folded if folder else folded[:-1])):
        return True
    if folder:
        return False
    name = folded[-1]
    if _SECRET_FILE.match(name) or _SECRET_DIR.match(name):
        return True
    return bool(_SECRET_WORD.search(name)) and not name.endswith(_SOURCE_SUFFIXES)


class Workspace:
    """A git worktree on a new branch from the repo's HEAD, with the file tools the agent may use on it."""

    def __init__(
        self,
        *,
        repo: Path,
        root: Path,
        branch: str,
        base_commit: str,
        allowed: Sequence[str],
        tracked: Iterable[str],
        limits: SandboxLimits | None = None,
    ) -> None:
        self.repo = repo
        self.root = root
        self.branch = branch
        self.base_commit = base_commit
        self.allowed: tuple[str, ...] = tuple(allowed)
        self.limits = limits or SandboxLimits()
        self._tracked = frozenset(tracked)
        self._written: set[str] = set()
        self._carried: set[str] = set()

    # -- making and ending it --------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        repo: Path | str,
        *,
        branch: str,
        allowed: Sequence[str],
        worktrees_dir: Path | str,
        limits: SandboxLimits | None = None,
    ) -> Workspace:
        """A worktree of `repo` at `worktrees_dir`/<branch> on the new branch `branch`, from the repo's HEAD.

        The user's working tree, index and current branch are left exactly as they are, dirty or not.
        """
        repo_path = Path(repo).resolve()
        try:
            handle = git.Repo(repo_path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise WorkspaceError(
                f"{repo_path} is not a git repository", "run delegate from the root of the application's git repository"
            ) from exc
        try:
            top = Path(handle.git.rev_parse("--show-toplevel")).resolve()
            base_commit = handle.git.rev_parse("--verify", "HEAD^{commit}")
        except git.GitCommandError as exc:
            raise WorkspaceError(
                f"{repo_path} has no commit yet: the workspace branch starts from HEAD", "commit once, then run again"
            ) from exc
        if top != repo_path:
            raise WorkspaceError(f"{repo_path} is inside the git repository {top}, not its root", f"use --repo {top}")
        try:
            handle.git.check_ref_format("--branch", branch)
        except git.GitCommandError as exc:
            raise WorkspaceError(
                f"{branch!r} is not a valid git branch name", "choose a name like delegate/042-x"
            ) from exc
        if _branch_exists(handle, branch):
            raise WorkspaceError(
                f"branch {branch!r} already exists in {repo_path}",
                f"choose another name (e.g. {free_branch_name(repo_path, branch)!r}) or delete the old branch",
            )
        folders = tuple(_normalise_allowed(allowed))
        worktrees = Path(worktrees_dir).resolve()
        git_dir = (repo_path / handle.git.rev_parse("--git-common-dir")).resolve()  # an absolute one stays as it is
        if worktrees.is_relative_to(repo_path) and not worktrees.is_relative_to(git_dir):
            rel = worktrees.relative_to(repo_path).as_posix()
            if rel == "." or not handle.ignored(rel + "/"):
                raise WorkspaceError(
                    f"the worktrees folder {worktrees} is inside your working tree, where it would show up as changes",
                    "put it outside the working tree (delegate's default is inside .git) or list it in .gitignore",
                )
        worktrees.mkdir(parents=True, exist_ok=True)
        root = worktrees / branch.replace("/", "-")
        if root.exists() or root.is_symlink():
            raise WorkspaceError(
                f"the worktree folder {root} already exists", "remove it (git worktree remove) or choose another branch"
            )
        try:
            _git(handle, "worktree", "add", "--quiet", "-b", branch, str(root), base_commit)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
            raise WorkspaceError(
                f"git could not make the worktree for branch {branch!r}: {detail}",
                "another delegate run may be using this branch; wait for it or choose another name",
            ) from exc
        root = root.resolve()
        tracked = handle.git.execute(["git", "-C", str(root), "ls-files", "-z"]).split("\0")
        return cls(
            repo=repo_path,
            root=root,
            branch=branch,
            base_commit=base_commit,
            allowed=folders,
            tracked=[t for t in tracked if t],
            limits=limits,
        )

    def remove(self, *, keep_branch: bool = False) -> None:
        """Delete the worktree, and its branch unless `keep_branch` (the branch is the result once committed)."""
        handle = git.Repo(self.repo)
        with contextlib.suppress(git.GitCommandError):
            _git(handle, "worktree", "remove", "--force", "--force", str(self.root))
        _git(handle, "worktree", "prune")
        if not keep_branch and _branch_exists(handle, self.branch):
            _git(handle, "branch", "-D", self.branch)

    def carry(self, folder: str) -> list[str]:
        """Copy the files of the user's `folder` (repo-relative, e.g. the feature's spec folder) that HEAD does not
        hold as they are into the worktree: an uncommitted spec still reaches the agent and the branch's commit.

        The user's tree is only read. Ignored files, symlinks, secret-looking names and files that are not bounded
        UTF-8 text are left behind. Returns the repo-relative paths carried, sorted; they become readable.
        """
        rel_folder = normalise_path(folder, folder=True)
        if not rel_folder:
            raise WorkspaceError("carry needs a folder below the repository root", "pass the feature's spec folder")
        handle = git.Repo(self.repo)
        source = self.repo / rel_folder
        if not source.is_dir() or source.is_symlink():
            return []
        carried: list[str] = []
        for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d.casefold() != ".git")
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(self.repo).as_posix()
                try:
                    normalise_path(rel)
                    self._no_symlink(rel, rel)
                except ToolRefused:
                    continue
                if path.is_symlink() or not path.is_file() or handle.ignored(rel):
                    continue
                data = path.read_bytes()
                target = self.root / rel
                if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
                    continue
                if (
                    len(data) > self.limits.max_file_bytes
                    or b"\0" in data
                    or _SECRET_CONTENT.search(data.decode("latin-1"))
                ):
                    continue
                try:
                    data.decode("utf-8")
                    self._store(rel, data, rel, record=False)
                except (UnicodeDecodeError, ToolRefused):
                    continue
                self._carried.add(rel)
                carried.append(rel)
        return sorted(carried)

    def commit(self, message: str) -> str:
        """Commit what the agent wrote (and what `carry` brought in) on the workspace branch; nothing else moves.
        Returns the sha."""
        if not message.strip():
            raise WorkspaceError("the commit message is empty", "pass a message that says what the change does")
        nothing = WorkspaceError(f"nothing to commit in {self.root}: the agent changed no file", "run the agent first")
        if not self._written | self._carried:
            raise nothing
        handle = git.Repo(self.root)
        name, email = _author(handle)
        # -f: a file the checks proved is committed even if a .gitignore would hide it.
        _git(handle, "add", "-f", "--", *sorted(self._written | self._carried))
        if not handle.git.diff("--cached", "--name-only"):
            raise nothing
        _git(
            handle,
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
        )
        return handle.git.rev_parse("HEAD")

    def written(self) -> list[str]:
        """Repo-relative paths the agent created or changed in this session, sorted."""
        return sorted(self._written)

    # -- the tools ---------------------------------------------------------------------------------------------

    def list_files(self, path: object = "") -> str:
        """The tracked and written files under the folder `path` ('' or '.' for the root), one per line, sorted."""
        rel = normalise_path(path, folder=True)
        if rel:
            self._no_symlink(rel, path)
        prefix = rel + "/" if rel else ""
        files = sorted(p for p in self._readable_names() if not rel or p == rel or p.startswith(prefix))
        if not files:
            raise ToolRefused(
                f"nothing to list under {_describe(path)}: no tracked or written file is there; "
                "list_files with path '.' shows the whole repository"
            )
        shown = [f"{p} (written)" if p in self._written else p for p in files[:_LIST_LIMIT]]
        if len(files) > _LIST_LIMIT:
            shown.append(f"… and {len(files) - _LIST_LIMIT} more: list a subfolder to see them")
        return "\n".join(shown)

    def read_file(self, path: object) -> str:
        """The text of a tracked or written file."""
        rel = normalise_path(path)
        if rel not in self._tracked and rel not in self._written and rel not in self._carried:
            raise ToolRefused(
                f"cannot read {_describe(path)}: only the repository's tracked files and the files you wrote can be "
                "read; list_files shows them"
            )
        full = self._no_symlink(rel, path)
        text = self._read_text(full, rel, path)
        if _SECRET_CONTENT.search(text):
            raise ToolRefused(
                f"cannot read {_describe(path)}: it holds what looks like a private key or an API token, and what "
                "you read is sent to the model provider"
            )
        return text

    def write_file(self, path: object, content: object) -> str:
        """Create or replace a file inside an allowed folder with `content` (UTF-8 text)."""
        rel = self._writable(path)
        data = self._check_content(content, path)
        self._store(rel, data, path)
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        return f"wrote {rel} ({len(data)} bytes, {lines} lines)"

    def edit_file(self, path: object, old: object, new: object) -> str:
        """Replace the one occurrence of `old` with `new` in a file inside an allowed folder."""
        rel = self._writable(path)
        if not isinstance(old, str) or not isinstance(new, str):
            raise ToolRefused(f"edit_file on {_describe(path)}: 'old' and 'new' must both be strings")
        if not old:
            raise ToolRefused(f"edit_file on {_describe(path)}: 'old' is empty; quote the exact text to replace")
        text = self.read_file(rel)
        count = text.count(old)
        if count != 1:
            why = "does not occur" if count == 0 else f"occurs {count} times"
            raise ToolRefused(
                f"edit_file on {rel}: 'old' {why} in the file; it must occur exactly once "
                "(copy it exactly from read_file, with enough surrounding lines to be unique)"
            )
        data = self._check_content(text.replace(old, new, 1), path)
        self._store(rel, data, path)
        return f"edited {rel}: replaced 1 occurrence ({old.count(chr(10)) + 1} lines with {new.count(chr(10)) + 1})"

    # -- the guard's parts -------------------------------------------------------------------------------------

    def _readable_names(self) -> list[str]:
        names = []
        for name in self._tracked | self._written | self._carried:
            try:
                normalise_path(name)
            except ToolRefused:
                continue
            names.append(name)
        return names

    def _writable(self, path: object) -> str:
        rel = normalise_path(path)
        if any(part.casefold().startswith(".git") for part in rel.split("/")):
            raise ToolRefused(
                f"cannot write {_describe(path)}: git's control files (.gitignore, .gitattributes, ...) are not written"
            )
        # an allowed entry is a folder, or one file (a models module such as app/models.py)
        allowed_file = rel in self.allowed and not (self.root / rel).is_dir()
        if not allowed_file and not any(rel.startswith(folder + "/") for folder in self.allowed):
            raise ToolRefused(
                f"cannot write {_describe(path)}: writes are allowed only inside {', '.join(self.allowed) or 'no folder'}"
            )
        self._no_symlink(rel, path)
        if rel not in self._written and len(self._written) >= self.limits.max_files_written:
            raise ToolRefused(
                f"cannot write {_describe(path)}: this session already wrote {len(self._written)} files, the limit; "
                "change the files you wrote instead of adding more"
            )
        return rel

    def _no_symlink(self, rel: str, shown: object) -> Path:
        """root/rel, checked component by component: no symlink on the way, nothing that resolves outside."""
        current = self.root
        for part in rel.split("/"):
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                break
            except OSError as exc:
                raise ToolRefused(f"cannot use {_describe(shown)}: {exc.strerror}") from None
            if stat.S_ISLNK(mode):
                raise ToolRefused(
                    f"cannot use {_describe(shown)}: '{current.relative_to(self.root).as_posix()}' is a symbolic link, "
                    "and links are never followed"
                )
        full = self.root / rel
        if not full.resolve().is_relative_to(self.root):
            raise ToolRefused(f"cannot use {_describe(shown)}: it resolves outside the workspace")
        return full

    def _read_text(self, full: Path, rel: str, shown: object) -> str:
        try:
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise ToolRefused(f"cannot read {_describe(shown)}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ToolRefused(f"cannot read {_describe(shown)}: it is not a regular file")
            if info.st_size > self.limits.max_file_bytes:
                raise ToolRefused(
                    f"cannot read {_describe(shown)}: it has {info.st_size} bytes, over the "
                    f"{self.limits.max_file_bytes}-byte limit"
                )
            data = handle.read(self.limits.max_file_bytes + 1)
        if b"\0" in data:
            raise ToolRefused(f"cannot read {_describe(shown)}: it is a binary file; only text files are read")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolRefused(f"cannot read {_describe(shown)}: it is not UTF-8 text") from None

    def _check_content(self, content: object, shown: object) -> bytes:
        if not isinstance(content, str):
            raise ToolRefused(f"cannot write {_describe(shown)}: the content must be a string of text")
        if "\0" in content:
            raise ToolRefused(f"cannot write {_describe(shown)}: the content holds NUL bytes; only text is written")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            raise ToolRefused(
                f"cannot write {_describe(shown)}: the content is not valid Unicode text (lone surrogates)"
            ) from None
        if len(data) > self.limits.max_file_bytes:
            raise ToolRefused(
                f"cannot write {_describe(shown)}: {len(data)} bytes is over the {self.limits.max_file_bytes}-byte "
                "limit per file; split the work into smaller files"
            )
        return data

    def _store(self, rel: str, data: bytes, shown: object, *, record: bool = True) -> None:
        """Write atomically: a temporary file in the same folder, then a rename over the old entry (never through
        a hard link or whatever else the old entry was)."""
        target = self.root / rel
        current = self.root
        try:
            for part in rel.split("/")[:-1]:
                current = current / part
                if not current.exists():
                    current.mkdir()
                if current.is_symlink() or not current.is_dir():
                    raise ToolRefused(
                        f"cannot write {_describe(shown)}: '{current.relative_to(self.root).as_posix()}' is not a folder"
                    )
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise ToolRefused(f"cannot write {_describe(shown)}: a folder or special file is in the way")
            fd, tmp = tempfile.mkstemp(dir=current, prefix=".delegate-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise ToolRefused(f"cannot write {_describe(shown)}: {exc.strerror}") from None
        if record:
            self._written.add(rel)


def free_branch_name(repo: Path | str, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`, ... : the first name no branch of `repo` has."""
    handle = git.Repo(Path(repo))
    if not _branch_exists(handle, wanted):
        return wanted
    n = 2
    while _branch_exists(handle, f"{wanted}-{n}"):
        n += 1
    return f"{wanted}-{n}"


def _git(handle: git.Repo, *args: str) -> str:
    """Run git in `handle`'s folder with the user's hooks off and no signing (see _GIT_SAFE)."""
    return str(handle.git.execute(["git", *_GIT_SAFE, *args]))


def _branch_exists(handle: git.Repo, branch: str) -> bool:
    try:
        handle.git.show_ref("--verify", "--quiet", f"refs/heads/{branch}")
    except git.GitCommandError:
        return False
    return True


def _normalise_allowed(allowed: Sequence[str]) -> Iterable[str]:
    for folder in allowed:
        try:
            rel = normalise_path(folder, folder=True)
        except ToolRefused as exc:
            raise WorkspaceError(f"allowed folder {folder!r} is not a plain repo-relative folder: {exc}") from None
        if not rel:
            raise WorkspaceError(
                "the repository root cannot be an allowed folder",
                "allow the feature's folders, e.g. api/alembic/versions",
            )
        yield rel


def _author(handle: git.Repo) -> tuple[str, str]:
    reader = handle.config_reader()
    name = reader.get_value("user", "name", default="") or DEFAULT_AUTHOR[0]
    email = reader.get_value("user", "email", default="") or DEFAULT_AUTHOR[1]
    return str(name), str(email)
