"""The one way to run the target repo's Python: a Runner (argv, env, cwd, timeout -> ProcessResult) over a plain
subprocess (process.PlainRunner) or forks of a fork server (zygote.ForkingRunner), long-lived JSON-lines servers
(process.LineServer: the fork server, the Alembic worker), and the secret-free environment they all run with
(env.py)."""
