"""Renders a CheckReport for people and machines: text (rich), json (the v1 contract), sarif 2.1.0, github."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from orchestrator import __version__
from orchestrator.errors import InputError
from orchestrator.report import CheckReport, Finding, Severity

if TYPE_CHECKING:
    from rich.console import Console

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def emit(
    report: CheckReport, fmt: str, repo: Path | None = None, out: TextIO | None = None, verbose: bool = False
) -> None:
    """Print `report` in format `fmt` to `out` (default stdout); `verbose`: the text view's whole live tables."""
    stream = out or sys.stdout
    if fmt == "json":
        stream.write(to_json(report) + "\n")
    elif fmt == "sarif":
        stream.write(json.dumps(to_sarif(report, repo), indent=2) + "\n")
    elif fmt == "github":
        stream.write("".join(line + "\n" for line in to_github(report)))
    elif fmt == "text":
        render_text(report, stream, verbose=verbose)
    else:
        raise InputError(f"--format {fmt}: unknown format", f"use one of {', '.join(FORMATS)}")


# -- json --------------------------------------------------------------------------------------------------------


def to_json(report: CheckReport) -> str:
    """The v1 contract: {"version", "findings": [{rule, severity, file, line, message, fix}], "verification",
    "summary": {errors, warnings, infos}}.

    Indented, with each finding on a line of its own: as readable, greppable and diffable as a fully indented
    file, and written by the json module's C encoder (indentation makes it fall back to pure Python, which
    costs more than the rules on a large input)."""
    data = report.to_dict()
    encode = json.JSONEncoder(ensure_ascii=False).encode
    findings = ",\n".join(f"    {encode(f)}" for f in data["findings"])
    parts = [
        f'  "version": {encode(data["version"])}',
        f'  "findings": [\n{findings}\n  ]' if findings else '  "findings": []',
        '  "verification": ' + json.dumps(data["verification"], indent=2, ensure_ascii=False).replace("\n", "\n  "),
        '  "summary": ' + json.dumps(data["summary"], indent=2).replace("\n", "\n  "),
    ]
    return "{\n" + ",\n".join(parts) + "\n}"


# -- sarif -------------------------------------------------------------------------------------------------------


def _rule_catalogue() -> dict[str, dict[str, Any]]:
    """Rule descriptors for every known rule (the catalogue plus the engine's own internal-error)."""
    from orchestrator.checks.engine import INTERNAL_ERROR, INTERNAL_ERROR_FIX, load_rules

    described: dict[str, dict[str, Any]] = {}
    for rule in load_rules():
        described[rule.id] = {
            "id": rule.id,
            "shortDescription": {"text": rule.summary.replace("`", "")},
            "fullDescription": {"text": rule.why},
            "help": {"text": rule.fix, "markdown": f"**Fix:** {rule.fix}"},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            "properties": {"family": rule.family, "live": rule.live},
        }
    described.setdefault(
        INTERNAL_ERROR,
        {
            "id": INTERNAL_ERROR,
            "shortDescription": {"text": INTERNAL_ERROR.replace("-", " ")},
            "fullDescription": {"text": INTERNAL_ERROR.replace("-", " ")},
            "help": {"text": INTERNAL_ERROR_FIX},
            "defaultConfiguration": {"level": _SARIF_LEVEL[Severity.ERROR]},
        },
    )
    return described


def _uri(file: str) -> str:
    """A relative URI for a repo-relative path, or a file:// URI for a path outside the repo."""
    if file.startswith("/"):
        return "file://" + quote(file)
    return quote(file)


def to_sarif(report: CheckReport, repo: Path | None = None) -> dict[str, Any]:
    catalogue = _rule_catalogue()
    for f in report.findings:  # a rule the catalogue does not know (a live check added later) still gets one
        catalogue.setdefault(
            f.rule,
            {
                "id": f.rule,
                "shortDescription": {"text": f.rule},
                "defaultConfiguration": {"level": _SARIF_LEVEL[f.severity]},
            },
        )
    rules = sorted(catalogue.values(), key=lambda r: str(r["id"]))
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        text = f.message + (f"\nFix: {f.fix}" if f.fix else "")
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": text},
        }
        if f.file:
            location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.file)}}
            if not f.file.startswith("/"):
                location["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
            if f.line:
                location["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": location}]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "delegate",
                "version": __version__,
                "rules": rules,
            }
        },
        "results": results,
    }
    if repo is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": repo.resolve().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


# -- github ------------------------------------------------------------------------------------------------------


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def to_github(report: CheckReport) -> Iterable[str]:
    """GitHub Actions workflow commands: `::error file=F,line=L,title=RULE::message` (escaped as the runner wants)."""
    for f in report.findings:
        props = []
        if f.file:
            props.append(f"file={_escape_property(f.file)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={_escape_property(f.rule)}")
        message = f.message + (f"\nFix: {f.fix}" if f.fix else "")
        yield f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape_data(message)}"
    s = report.summary
    yield f"delegate: {s.errors} errors, {s.warnings} warnings, {s.infos} infos"


# -- text --------------------------------------------------------------------------------------------------------

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render_text(report: CheckReport, stream: TextIO, console: Console | None = None, verbose: bool = False) -> None:
    """Findings grouped by file, each with its severity, rule, line, message and fix; a summary; the verification
    (summarised to fit 80 columns; `verbose`: every table whole)."""
    from rich.console import Console
    from rich.text import Text

    console = console or Console(file=stream, highlight=False, soft_wrap=True)
    groups: dict[str, list[Finding]] = {}
    for f in report.findings:
        groups.setdefault(f.file or "(no file)", []).append(f)
    # One Text for every finding, printed at once: rich's cost is per print call (a print per line took 2 s for
    # 13,000 findings).
    body = Text()
    for file, findings in groups.items():
        body.append(file, style="bold underline")
        body.append("\n")
        previous_fix: tuple[str, str] | None = None
        for f in findings:
            body.append("  ")
            body.append(f"{f.line or '-':>5}", style="dim")
            body.append("  ")
            body.append(f"{f.severity.value:<7}", style=_STYLE[f.severity])
            body.append(f"  {f.rule}", style="bold")
            body.append(f"  {f.message}\n")
            if f.fix and (f.rule, f.fix) == previous_fix:
                # The same rule's fix, repeated line after line, would bury the findings themselves.
                body.append("         fix: ", style="green")
                body.append("as above\n", style="dim")
            elif f.fix:
                body.append("         fix: ", style="green")
                body.append(f.fix.replace("\n", "\n" + " " * 15) + "\n")
            previous_fix = (f.rule, f.fix)
        body.append("\n")
    if body:
        console.print(body, end="")
    s = report.summary
    style = "bold red" if s.errors else ("yellow" if s.warnings else "bold green")
    verdict = "blocking" if report.blocking else "ok"
    console.print(
        Text(f"{s.errors} errors, {s.warnings} warnings, {s.infos} infos ({verdict})", style=style), highlight=False
    )
    if report.verification is None:
        import textwrap

        for note in report.notes:  # the live half's notes say them otherwise
            console.print(Text(textwrap.fill(note, 80, subsequent_indent="  "), style="dim"), highlight=False)
    if report.verification is not None:
        console.print()
        if verbose:
            from orchestrator.verify.render import render_verification

            render_verification(report.verification, console)
        else:
            from orchestrator.live_summary import render_summary

            render_summary(report.verification, console)
