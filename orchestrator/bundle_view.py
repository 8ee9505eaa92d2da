"""`delegate bundle`'s views of a bundle: text (rich) for a person, JSON (one object, the whole bundle) for a program."""

from __future__ import annotations

import json
import sys
from typing import Any

from orchestrator.bundle import Bundle, estimate_tokens, render_system_prompt, render_task_prompt


def bundle_json(bundle: Bundle) -> dict[str, Any]:
    """The bundle as one JSON object: its fields, its digest, and the estimated tokens of the rendered prompts."""
    return {
        "version": bundle.version,
        "digest": bundle.digest,
        "prompt_tokens": prompt_tokens(bundle),
        **bundle.model_dump(mode="json", exclude={"version"}),
    }


def prompt_tokens(bundle: Bundle) -> dict[str, int]:
    return {
        "system": estimate_tokens(render_system_prompt(bundle)),
        "task": estimate_tokens(render_task_prompt(bundle)),
    }


def emit_bundle(bundle: Bundle, output_format: str) -> None:
    if output_format == "json":
        sys.stdout.write(json.dumps(bundle_json(bundle), indent=2, ensure_ascii=False) + "\n")
        return
    from rich.console import Console

    print_bundle(bundle, Console(soft_wrap=True, highlight=False))


def print_bundle(bundle: Bundle, console: Any) -> None:
    """What the agent would be given: files, sections, references chosen and why, what the budget dropped, tokens."""
    from rich.text import Text

    console.print(
        Text.assemble(
            ("bundle ", "bold"),
            (bundle.feature, "bold cyan"),
            f": {bundle.title}  ",
            (f"digest {bundle.digest[:16]}", "dim"),
        )
    )
    if not bundle.needs_database_change:
        console.print(
            Text.assemble(("no database change: ", "bold yellow"), bundle.no_change_reason or ""),
            Text(" (delegate migrations exits 0 and says so)", style="dim"),
        )

    console.print(Text("Files", style="bold"))
    for document in bundle.documents:
        size = f"{document.tokens:,} tokens" if document.present else "missing"
        console.print(f"  {document.path}  {size}")

    agent = bundle.agent
    console.print(Text("Agent", style="bold"))
    where = "delegate's bundled file" if agent.source == "bundled" else agent.source
    console.print(f"  {agent.name} from {where}: {agent.reason}")
    requested = f" (asked for {agent.model_requested})" if agent.model_requested not in (None, agent.model) else ""
    turns = f", at most {agent.max_turns} turns" if agent.max_turns else ""
    console.print(f"  model {agent.model}{requested}{turns}; tools {', '.join(agent.tools)}")
    if agent.ignored_tools or agent.ignored_keys:
        console.print(
            Text(
                f"  ignored: tools {', '.join(agent.ignored_tools) or 'none'}; keys {', '.join(agent.ignored_keys) or 'none'}",
                style="dim",
            )
        )

    layout = bundle.layout
    console.print(Text("Layout", style="bold"))
    console.print(f"  config: {layout.config_source or 'defaults'}; alembic {layout.alembic_ini}")
    console.print(f"  allowed folders: {', '.join(bundle.allowed_folders)}")
    console.print(f"  {len(layout.files) + layout.files_left_out} tracked files listed for the agent")
    if bundle.entities:
        console.print(Text("Data model", style="bold"))
        for entity in bundle.entities:
            kind = "existing, adds" if entity.existing else "new"
            console.print(f"  {entity.table} ({kind}): {', '.join(entity.fields) or 'no fields read'}")

    console.print(Text("New revision", style="bold"))
    console.print(f"  revision {bundle.suggested_revision_id}, down_revision {bundle.down_revision}")
    console.print(f"  runbook {bundle.runbook_path}")

    console.print(
        Text(
            f"References ({bundle.tokens.references:,} tokens of a {bundle.tokens.budget:,}-token budget)", style="bold"
        )
    )
    for migration in bundle.references:
        console.print(f"  {migration.path}  {migration.revision}  {migration.tokens:,} tokens")
        for reason in migration.reasons:
            console.print(Text(f"    - {reason}", style="dim"))
    if not bundle.references:
        console.print("  none (the history is empty)")
    if bundle.dropped:
        console.print(Text(f"Dropped by the budget ({bundle.tokens.dropped:,} tokens)", style="bold"))
        for left_out in bundle.dropped:
            console.print(f"  {left_out.path}  {left_out.revision}: {left_out.why}")
            for reason in left_out.reasons:
                console.print(Text(f"    - wanted: {reason}", style="dim"))

    tokens = bundle.tokens
    prompts = prompt_tokens(bundle)
    console.print(Text("Tokens (estimated, 4 characters each)", style="bold"))
    console.print(
        f"  documents {tokens.documents:,}, agent {tokens.agent:,}, layout {tokens.layout:,}, "
        f"references {tokens.references:,}: {tokens.total:,} in all"
        + (f"; dropped {tokens.dropped:,}" if tokens.dropped else "")
    )
    console.print(f"  system prompt {prompts['system']:,}, task prompt {prompts['task']:,}")
    for note in bundle.notes:
        console.print(Text.assemble(("note: ", "yellow"), note))
