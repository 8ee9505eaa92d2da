"""The command line's commands, arguments and help (typer). orchestrator.cli.main() runs them; it parses a
plain `delegate check` itself, with the same meaning (tests/test_cli_fast.py holds the two to each other)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator import __version__
from orchestrator.check_command import run_check_command

app = typer.Typer(
    name="delegate",
    help="Delegate a feature's database migrations to an agent, and prove them on a real PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"delegate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """delegate: spec-driven database migrations, written by an agent and proven on PostgreSQL."""


RepoOption = Annotated[Path, typer.Option("--repo", help="The target repository (its root).", file_okay=False)]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help="A server on which delegate may create scratch databases (it never migrates this database). "
        "Default: a throwaway server that delegate starts itself.",
    ),
]


@app.command()
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to check (.sql, Alembic revision .py). Default: the repo's layout."),
    ] = None,
    repo: RepoOption = Path("."),
    spec: Annotated[
        Path | None, typer.Option("--spec", help="The feature folder (specs/NNN-feature) to check against.")
    ] = None,
    static_only: Annotated[bool, typer.Option("--static-only", help="Skip the live PostgreSQL checks.")] = False,
    stairway: Annotated[
        bool, typer.Option("--stairway", help="Round-trip every revision under test on its own.")
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="Test the revisions after this one (the base).")] = None,
    rows: Annotated[int, typer.Option("--rows", min=0, help="Fill the base's tables with N synthetic rows first.")] = 0,
    database_url: DatabaseUrlOption = None,
    no_template_cache: Annotated[
        bool,
        typer.Option(
            "--no-template-cache",
            help="Build the base template for this run and drop it after (no delegate_tpl_* database stays).",
        ),
    ] = False,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="How to print the report.")] = (
        OutputFormat.text
    ),
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Text: print every live step, revision, RLS cell, lock and plan.")
    ] = False,
) -> None:
    """Check migrations, policies and seeds: static rules, then a live round trip on PostgreSQL."""
    from orchestrator.check import CheckOptions

    options = CheckOptions(
        repo=repo,
        paths=list(paths or []),
        spec=spec,
        static_only=static_only,
        stairway=stairway,
        since=since,
        rows=rows,
        database_url=database_url,
        template_cache=not no_template_cache,
    )
    raise typer.Exit(run_check_command(options, output_format.value, verbose))


@app.command()
def rules(
    rule_id: Annotated[str | None, typer.Argument(help="A rule id: print its documentation.")] = None,
) -> None:
    """List every rule, or print one rule's documentation."""
    from orchestrator.checks.docs import print_rule, print_rules

    if rule_id is None:
        print_rules()
    else:
        print_rule(rule_id)


class RunFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def migrations(
    spec: Annotated[Path, typer.Argument(help="The feature folder, e.g. specs/042-lesson-progress.")],
    repo: RepoOption = Path("."),
    model: Annotated[
        str | None, typer.Option("--model", help="The model id (default: the agent definition's, else Sonnet).")
    ] = None,
    max_rounds: Annotated[
        int, typer.Option("--max-rounds", min=0, help="How many times findings go back to the agent for repair.")
    ] = 3,
    max_turns: Annotated[
        int | None, typer.Option("--max-turns", min=1, help="Turns the agent may take in all (default: 60).")
    ] = None,
    budget_usd: Annotated[
        float | None, typer.Option("--budget-usd", min=0, help="Stop the agent once the run has cost this much.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Record the agent session to this cassette (needs a key).")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Replay a recorded session: no key, no network.")
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="The branch to create (default: <feature>-migrations).")
    ] = None,
    database_url: DatabaseUrlOption = None,
    output_format: Annotated[RunFormat, typer.Option("--format", help="How to print the result.")] = RunFormat.text,
) -> None:
    """Run the database-architect agent on a feature, prove its work, and commit it to a new branch."""
    import sys

    from orchestrator.migrations_view import LiveView, print_result
    from orchestrator.pipeline import MigrationsOptions, run_migrations

    options = MigrationsOptions(
        repo=repo,
        spec=spec,
        model=model,
        max_rounds=max_rounds,
        max_turns=max_turns,
        budget_usd=budget_usd,
        record=record,
        replay=replay,
        database_url=database_url,
        branch=branch,
    )
    console = None
    observe = None
    if output_format is RunFormat.text:
        from rich.console import Console

        console = Console(soft_wrap=True)
        observe = LiveView(console)
    result = run_migrations(options, observe)
    print_result(result, output_format.value, sys.stdout, console)
    raise typer.Exit(result.exit_code)


class ReviewFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def review(
    branch: Annotated[str, typer.Argument(help="A branch that `delegate migrations` created.")],
    repo: RepoOption = Path("."),
    output_format: Annotated[
        ReviewFormat, typer.Option("--format", help="text, markdown (a pull request body) or json.")
    ] = ReviewFormat.text,
    database_url: DatabaseUrlOption = None,
    static_only: Annotated[bool, typer.Option("--static-only", help="Skip the live PostgreSQL checks.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Text: every file and every live table.")] = False,
) -> None:
    """Read a generated branch back: what it adds, its checks re-run, the RLS matrix, the plan, the session's usage."""
    from orchestrator.review import ReviewOptions, review_branch
    from orchestrator.review_view import emit_review

    result = review_branch(ReviewOptions(branch=branch, repo=repo, database_url=database_url, static_only=static_only))
    emit_review(result, output_format.value, verbose=verbose)
    raise typer.Exit(result.exit_code)


@app.command()
def clean(
    repo: RepoOption = Path("."),
    templates: Annotated[
        bool, typer.Option("--templates", help="Also drop the cached base template databases (with --database-url).")
    ] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Remove the worktrees and run folders delegate left in the repo (branches stay), and optionally its templates."""
    from orchestrator.clean import clean_repo, drop_template_databases
    from orchestrator.errors import InputError

    if templates and not database_url:
        raise InputError(
            "--templates needs the server the templates are on",
            "pass --database-url postgresql://USER@HOST:PORT/postgres (or set DATABASE_URL)",
        )
    result = clean_repo(repo)
    if templates and database_url:
        result.templates = drop_template_databases(database_url)
        if not result.templates:
            result.kept.append("no delegate_tpl_* template database on that server")
    for line in result.lines():
        typer.echo(line)


class BundleFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def bundle(
    spec: Annotated[Path, typer.Argument(help="The feature folder, e.g. specs/042-lesson-progress.")],
    repo: RepoOption = Path("."),
    token_budget: Annotated[
        int, typer.Option("--token-budget", min=0, help="Estimated tokens allowed for the reference migrations.")
    ] = 30_000,
    output_format: Annotated[BundleFormat, typer.Option("--format", help="How to print the bundle.")] = (
        BundleFormat.text
    ),
) -> None:
    """Print what the agent would be given for a feature: files, sections, reference migrations and why, tokens."""
    from orchestrator.bundle import build_bundle
    from orchestrator.bundle_view import emit_bundle

    emit_bundle(build_bundle(repo, spec, token_budget=token_budget), output_format.value)


@app.command()
def demo(
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put the example's git copy (default: a new temporary folder, kept)."),
    ] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the whole pipeline on the bundled example from a recorded agent session: no key, no database needed."""
    import sys

    from rich.console import Console
    from rich.text import Text

    from orchestrator.demo import FEATURE, run_demo
    from orchestrator.migrations_view import LiveView, print_result
    from orchestrator.review_view import emit_review

    console = Console(soft_wrap=True)
    console.print(
        Text(
            "delegate demo: the database part of the example's feature 042 delegated to the database-architect "
            "agent, replayed from a recorded session (no API key, no network), and proven on PostgreSQL.",
            "bold",
        )
    )
    result = run_demo(folder, database_url, LiveView(console))
    print_result(result.migrations, "text", sys.stdout, console)
    if result.review is not None:
        console.print(Text("\n-- delegate review " + str(result.migrations.branch), "bold"))
        emit_review(result.review, "text")  # type: ignore[arg-type]
    repo = result.repo
    branch = result.migrations.branch
    console.print(Text(f"\nThe example's copy is {repo}. Look at the agent's branch:", "bold"))
    for command in (
        f"git -C {repo} log --stat {branch}",
        f"git -C {repo} show {branch}:{FEATURE}/migration-plan.md",
        f"delegate review {branch} --repo {repo} --format markdown",
    ):
        console.print(Text(f"  {command}"), highlight=False)
    raise typer.Exit(result.migrations.exit_code)
