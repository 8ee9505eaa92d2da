"""secret-in-migration: a credential in a migration, policy or seed file (reported by line, never echoed)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.lines import LineIndex
from orchestrator.report import Severity

# (what it is, pattern); group "value" (when present) is the secret part, checked against placeholders.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("an OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?(?!ant-)[A-Za-z0-9_-]{20,}")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[baprs]-[0-9A-Za-z-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    (
        "a URL with a password",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]+:(?P<value>[^\s/@'\"]+)@[^\s/'\"]+"),
    ),
    (
        "a role password",
        re.compile(r"(?is)\b(?:create|alter)\s+(?:role|user)\b[^;]*?\bpassword\s+'(?P<value>[^']*)'"),
    ),
)

# Values that stand for a secret rather than being one (templates, env references, well-known dev defaults).
_PLACEHOLDER = re.compile(
    r"""^(?:
        \$\{?[A-Za-z_][A-Za-z0-9_]*\}? | \{\{.*\}\} | \{[A-Za-z_]+\} | <[^>]*> | %\(?[a-z_]*\)?s | :[a-z_]+ |
        \*+ | x+ | \.\.\. |
        (?:my|your|the|some|example|dummy|fake|test|sample|change|changeme|secret|placeholder)?[-_]?
        (?:pass|password|passwd|pwd|secret|changeme|example|postgres|redacted|placeholder)[-_]?(?:here)?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


# Most files hold none of these markers; they skip the patterns entirely.
_MARKERS = ("sk-", "k_live_", "AKIA", "ASIA", "gh", "xox", "PRIVATE KEY", "eyJ", "://")


def _may_hold_secret(text: str) -> bool:
    # Substring tests run in C, ten times faster than one alternation regex over the whole text.
    return any(m in text for m in _MARKERS) or "password" in text.lower()


def _placeholder(value: str) -> bool:
    return not value or bool(_PLACEHOLDER.match(value))


class SecretInMigration(Rule):
    id = "secret-in-migration"
    severity = Severity.ERROR
    family = "content"
    summary = "a credential in a migration, policy or seed (API keys, passwords, URLs with passwords, private keys)"
    why = (
        "Migrations, policies and seeds are committed, reviewed in pull requests, copied into every clone and "
        "CI log, and often public. A key or password written there is leaked the moment it is pushed, and "
        "rotating it is the only fix. Placeholders (${DB_PASSWORD}, <password>, changeme) are not reported; "
        "the finding names the kind of secret and its line, never the secret itself."
    )
    fix = (
        "Remove the secret, rotate it (it is already in the history), and read it at run time: "
        "os.environ['...'] in the revision, or a setting the deploy injects (Supabase vault, ALTER ROLE run by "
        "the operator, not the migration)."
    )
    example_path = revision_path("reporting_role")
    bad = revision(
        "op.execute(\"CREATE ROLE reporting LOGIN PASSWORD 'Tr0ub4dor&3-reporting'\")",
        'op.execute("DROP ROLE reporting")',
        message="reporting role",
    )
    good = revision(
        """
        op.execute("CREATE ROLE reporting NOLOGIN")
        op.execute("GRANT SELECT ON public.lessons TO reporting")
        """,
        """
        op.execute("REVOKE SELECT ON public.lessons FROM reporting")
        op.execute("DROP ROLE reporting")
        """,
        message="reporting role (the operator sets its password: ALTER ROLE reporting LOGIN PASSWORD '<password>')",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        checked = set(ctx.sql_files) | {rf.rel for rf in ctx.revision_files}
        for rel in sorted(checked):
            text = ctx.texts.get(rel)
            if not text:
                continue
            if not _may_hold_secret(text):
                continue
            seen: set[tuple[int, str]] = set()
            lines = LineIndex(text)
            for what, pattern in SECRET_PATTERNS:
                for match in pattern.finditer(text):
                    value = match.groupdict().get("value")
                    if value is not None and _placeholder(value):
                        continue
                    start = match.start("value") if value is not None else match.start()
                    line = lines.line(start)
                    if (line, what) in seen:
                        continue
                    seen.add((line, what))
                    yield Violation(rel, line, f"{what} is written in {rel} (line {line}); it is not shown here")
