"""Agent definitions in Claude Code's subagent format (YAML front matter, then the instructions), read as Claude Code
reads them, with its tool names mapped to this tool's and its model aliases resolved to the installed SDK's ids."""

from __future__ import annotations

import re
import typing
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from orchestrator.errors import InputError
from orchestrator.resources import data_dir

AGENT_NAME = "database-architect"
BUNDLED = "bundled"

# The tool contract, in the order of the tool schemas the model is given (orchestrator/agent/tools.py).
OUR_TOOLS = ("list_files", "read_file", "write_file", "edit_file", "run_checks", "submit")
ALWAYS = ("run_checks", "submit")  # without them the agent can neither prove nor hand in its work

# Claude Code's tool names -> ours. Grep has no twin: listing and reading is how the agent searches here. Bash
# becomes run_checks: the one command the agent may run is the judge. Anything else (WebFetch, Task, TodoWrite,
# mcp__* servers, ...) has no counterpart and is ignored, as Claude Code ignores a tool it does not know.
CLAUDE_CODE_TOOLS: dict[str, tuple[str, ...]] = {
    "Read": ("read_file",),
    "Write": ("write_file",),
    "Edit": ("edit_file",),
    "MultiEdit": ("edit_file",),
    "Glob": ("list_files",),
    "LS": ("list_files",),
    "Grep": ("list_files", "read_file"),
    "Bash": ("run_checks",),
}

# Front matter keys this tool uses; Claude Code's others (permissionMode, color, skills, hooks, ...) are accepted.
USED_KEYS = ("name", "description", "tools", "disallowedTools", "model", "maxTurns")
MODEL_ALIASES = ("sonnet", "opus", "haiku")


class AgentDefinition(BaseModel):
    """One agent definition, resolved: our tool names, a full model id, and where it came from."""

    name: str
    description: str
    tools: list[str]  # ours, in the tool contract's order; run_checks and submit always among them
    model: str  # a full model id
    max_turns: int | None = None
    instructions: str  # the body after the front matter
    source: str  # the repo-relative path of the file, or "bundled"
    model_requested: str | None = None  # as written ("sonnet", "inherit", an id), None when not set
    ignored_keys: list[str] = Field(default_factory=list)  # Claude Code keys accepted but not used here
    ignored_tools: list[str] = Field(default_factory=list)  # Claude Code tools with no counterpart here
    reason: str = ""  # why this definition was chosen (a repo's own beats the bundled one)


# --- the model ------------------------------------------------------------------------------------------------

# claude-sonnet-5-5, claude-sonnet-5, claude-haiku-4-5-20251001, and the older claude-3-5-sonnet-20241022.
_MODEL_ID = re.compile(
    r"^claude-(?:(?P<family>[a-z]+)-(?P<major>\d+)(?:-(?P<minor>\d{1,2}))?"
    r"|(?P<major_old>\d+)(?:-(?P<minor_old>\d{1,2}))?-(?P<family_old>[a-z]+))"
    r"(?:-(?P<date>\d{8}))?$"
)


@cache
def sdk_models() -> list[str]:
    """Every model id the installed anthropic SDK names (the Literal inside anthropic.types.ModelParam).

    Read from the module's source with ast: importing anthropic costs seconds, and `delegate bundle` never calls
    the API. An installation without the source file (a zipped one) is imported instead."""
    import importlib.util

    spec = importlib.util.find_spec("anthropic")
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    source = folder / "types" / "model_param.py" if folder is not None else None
    if source is not None and source.is_file():
        return _literal_strings(source.read_text(encoding="utf-8"))
    from anthropic.types.model_param import ModelParam

    found: list[str] = []

    def walk(tp: object) -> None:
        for arg in typing.get_args(tp):
            if isinstance(arg, str):
                found.append(arg)
            else:
                walk(arg)

    walk(ModelParam)
    return found


def _literal_strings(source: str) -> list[str]:
    """The strings inside every Literal[...] of a module's source."""
    import ast

    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", "")) == "Literal":
            found += [c.value for c in ast.walk(node.slice) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return found


def _version_key(model_id: str, family: str) -> tuple[int, int, int, int] | None:
    """(major, minor, undated, date) of a model id of `family`; None for another family or an unknown shape.
    An undated alias (claude-sonnet-5-5) ranks above the dated snapshots of the same version: it names the newest."""
    match = _MODEL_ID.match(model_id)
    if match is None or (match.group("family") or match.group("family_old")) != family:
        return None
    major = match.group("major") or match.group("major_old")
    minor = match.group("minor") or match.group("minor_old") or "0"
    date = match.group("date")
    return int(major), int(minor), 0 if date else 1, int(date or 0)


def newest_model(family: str, models: list[str] | None = None) -> str | None:
    """The newest id of a family (sonnet, opus, haiku) among `models` (default: the installed SDK's list)."""
    ranked = [(key, m) for m in (sdk_models() if models is None else models) if (key := _version_key(m, family))]
    return max(ranked)[1] if ranked else None


@cache
def default_model() -> str:
    """The newest Sonnet in the installed SDK's model list, found by comparing versions (not written down here)."""
    model = newest_model("sonnet")
    if model is None:
        raise InputError(
            "the installed anthropic SDK names no Sonnet model, so delegate has no default model",
            "set `model:` to a full model id in the agent definition, or pass --model",
        )
    return model


def resolve_model(value: object, where: str) -> str:
    """A full model id for a front matter `model` value: an alias (sonnet, opus, haiku; inherit and none mean
    the default) or an id as written."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "inherit")):
        return default_model()
    if not isinstance(value, str):
        raise InputError(f"{where}: `model` must be a string, not {value!r}", _MODEL_HINT)
    text = value.strip()
    if text.lower() in MODEL_ALIASES:
        model = newest_model(text.lower())
        if model is None:
            raise InputError(f"{where}: model {text!r}: the installed anthropic SDK names no such model", _MODEL_HINT)
        return model
    if re.fullmatch(r"[\w.:@/-]+", text) and "claude" in text.lower():
        return text
    raise InputError(f"{where}: model {text!r} is neither an alias nor a Claude model id", _MODEL_HINT)


_MODEL_HINT = "use an alias (sonnet, opus, haiku, inherit) or a full id such as claude-sonnet-5-5"


# --- tools ----------------------------------------------------------------------------------------------------


def _tool_names(value: object, key: str, where: str) -> list[str]:
    """A tools value as a list of names: "Read, Write" or a YAML list; "Bash(git:*)" counts as Bash."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = [part for part in re.split(r"[,\s]+(?![^()]*\))", value) if part]
    elif isinstance(value, list):
        items = value
    else:
        raise InputError(f"{where}: `{key}` must be a comma-separated string or a list", "e.g. `tools: Read, Write`")
    names = []
    for item in items:
        if not isinstance(item, str):
            raise InputError(f"{where}: `{key}` holds {item!r}, which is not a tool name", "list tool names only")
        names.append(item.strip().split("(", 1)[0].strip())
    return [n for n in names if n]


def _ours(name: str) -> tuple[str, ...] | None:
    if name in OUR_TOOLS:
        return (name,)
    if name in CLAUDE_CODE_TOOLS:
        return CLAUDE_CODE_TOOLS[name]
    lowered = {k.lower(): v for k, v in CLAUDE_CODE_TOOLS.items()}
    return lowered.get(name.lower())


def map_tools(tools: object, disallowed: object, where: str) -> tuple[list[str], list[str]]:
    """(our tools in contract order, the names with no counterpart). No `tools` key means every tool, as in
    Claude Code; run_checks and submit are always there."""
    ignored: list[str] = []
    if tools is None:
        chosen = set(OUR_TOOLS)
    else:
        chosen = set()
        for name in _tool_names(tools, "tools", where):
            mapped = _ours(name)
            if mapped is None:
                ignored.append(name)
            else:
                chosen.update(mapped)
    for name in _tool_names(disallowed, "disallowedTools", where):
        mapped = _ours(name)
        if mapped is None:
            ignored.append(name)
        else:
            chosen -= set(mapped)
    chosen.update(ALWAYS)
    return [t for t in OUR_TOOLS if t in chosen], sorted(set(ignored))


# --- the file -------------------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(
    r"\A\ufeff?---[ \t]*\r?\n(?P<yaml>.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)(?P<body>.*)\Z", re.S | re.M
)


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """The front matter (a mapping) and the body of a subagent file."""
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))  # the same prompt from a Windows checkout
    if match is None:
        raise InputError(
            f"{where}: no YAML front matter (the file must start with a line `---`, then `name:` and `description:`, "
            "then a line `---`)",
            "write the agent definition in Claude Code's subagent format",
        )
    try:
        data = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 2}" if mark is not None else ""  # +1 for 1-based, +1 for the opening ---
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}:{line}: the front matter is not valid YAML ({problem})", "fix its syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: the front matter must be a mapping of keys (name: ..., description: ...)")
    return data, match.group("body")


def parse_agent_definition(text: str, source: str, where: str | None = None) -> AgentDefinition:
    """An AgentDefinition from a subagent file's text; InputError naming `where` (default: source) when a required
    key is missing or a value is malformed."""
    where = where or source
    data, body = split_front_matter(text, where)
    for key in ("name", "description"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                f"{where}: `{key}` is required in the front matter" + ("" if value is None else f" (got {value!r})"),
                f"add `{key}: ...` between the `---` lines",
            )
    max_turns = data.get("maxTurns")
    if isinstance(max_turns, str) and max_turns.strip().isdigit():
        max_turns = int(max_turns)
    if max_turns is not None and (isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1):
        raise InputError(f"{where}: `maxTurns` must be a positive whole number, not {max_turns!r}", "e.g. maxTurns: 40")
    instructions = body.strip("\n").rstrip() + "\n"
    if not instructions.strip():
        raise InputError(f"{where}: no instructions after the front matter", "write the agent's instructions below it")
    tools, ignored_tools = map_tools(data.get("tools"), data.get("disallowedTools"), where)
    requested = data.get("model")
    return AgentDefinition(
        name=data["name"].strip(),
        description=" ".join(data["description"].split()),
        tools=tools,
        model=resolve_model(requested, where),
        max_turns=max_turns,
        instructions=instructions,
        source=source,
        model_requested=str(requested).strip() if requested is not None else None,
        ignored_keys=sorted(str(k) for k in data if k not in USED_KEYS),
        ignored_tools=ignored_tools,
    )


def bundled_definition() -> AgentDefinition:
    """The database-architect that ships with delegate (agents/database-architect.md)."""
    path = data_dir("agents") / f"{AGENT_NAME}.md"
    definition = parse_agent_definition(_read(path, "agents/database-architect.md"), BUNDLED, where=str(path))
    definition.reason = "delegate's own definition (the repo has no .claude/agents/ file named *database-architect)"
    return definition


def _read(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror})", "check the file's permissions") from None


_NAME_LINE = re.compile(r"^name\s*:\s*[\"']?(?P<name>[^\"'\n#]*?)[\"']?\s*(?:#.*)?$", re.M)


def _matches(name: str) -> bool:
    return name.strip().endswith(AGENT_NAME)


def repo_definitions(repo: Path) -> list[AgentDefinition]:
    """Every definition under the repo's .claude/agents/ (subfolders included) whose name is database-architect
    or ends with it, parsed. A file that names another agent is not read further; a broken file that names this
    one is an error (falling back to the bundled definition would hide the repo's intent)."""
    root = repo.resolve()
    folder = root / ".claude" / "agents"
    if not folder.is_dir():
        return []
    found: list[AgentDefinition] = []
    for path in sorted(folder.rglob("*.md")):
        resolved = path.resolve()
        if not resolved.is_file() or not resolved.is_relative_to(root):
            continue  # a symlink out of the repo is not the repo's own definition
        rel = path.relative_to(root).as_posix()
        text = _read(path, rel)
        try:
            data, _ = split_front_matter(text, rel)
        except InputError:
            if AGENT_NAME in text:
                raise
            continue  # not a subagent file, and not ours
        name = data.get("name")
        if not isinstance(name, str):
            loose = _NAME_LINE.search(text)
            if loose is None or not _matches(loose.group("name")):
                continue
        elif not _matches(name):
            continue
        found.append(parse_agent_definition(text, rel))
    return found


def load_agent_definition(repo: Path) -> AgentDefinition:
    """The repo's own database-architect (any .claude/agents/**.md whose name ends with database-architect), else
    the bundled one. Among several, the choice is deterministic and said in `reason`: the exact name
    `database-architect` first, then the file nearest .claude/agents/, then the path in alphabetical order."""
    candidates = repo_definitions(repo)
    if not candidates:
        return bundled_definition()
    ranked = sorted(candidates, key=lambda d: (d.name != AGENT_NAME, d.source.count("/"), d.source))
    chosen = ranked[0]
    chosen.reason = f"the repo's own definition ({chosen.source}, name {chosen.name}) overrides delegate's"
    if len(ranked) > 1:
        others = ", ".join(f"{d.source} ({d.name})" for d in ranked[1:])
        chosen.reason += (
            f"; also found {others}: the exact name {AGENT_NAME} wins, then the file nearest .claude/agents/, "
            "then the first path in alphabetical order"
        )
    return chosen
