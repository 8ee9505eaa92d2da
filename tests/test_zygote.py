"""The fork server runs a command as a fresh `python` would: same output, exit code, environment and folder, the
repo's code met fresh every time, a timeout that ends everything the command started."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.runner.env import clean_env
from orchestrator.runner.process import run_bounded
from orchestrator.runner.zygote import Zygote

pytestmark = pytest.mark.skipif(not Zygote.supported(), reason="the fork server runs on Linux only")

SCRIPT = """
import os, sys
import counter
counter.VALUES.append(1)
print("argv", sys.argv[1:])
print("cwd", os.getcwd())
print("marker", os.environ.get("MARKER"))
print("path0", sys.path[0])
print("count", len(counter.VALUES))
print("to stderr", file=sys.stderr)
if len(sys.argv) > 1 and sys.argv[1] == "fail":
    raise RuntimeError("it broke")
if len(sys.argv) > 1 and sys.argv[1] == "message":
    sys.exit("a message")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "counter.py").write_text("VALUES = []\n", encoding="utf-8")
    (tmp_path / "work").mkdir()
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")
    return tmp_path


def env_for(project: Path, **extra: str) -> dict[str, str]:
    return clean_env({"PYTHONPATH": str(project / "lib"), **extra})


@pytest.fixture()
def zygote(project: Path) -> Iterator[Zygote]:
    with Zygote(sys.executable, env_for(project), project) as z:
        assert z.start(), z.broken
        yield z


@pytest.mark.parametrize("args", [[], ["7"], ["fail"], ["message"], ["a b", "c"]])
def test_a_script_runs_as_in_a_fresh_interpreter(project: Path, zygote: Zygote, args: list[str]) -> None:
    argv = [sys.executable, str(project / "script.py"), *args]
    env = env_for(project, MARKER="m1")
    forked = zygote.run(argv, env, project / "work", timeout=30)
    plain = run_bounded(argv, env=env, cwd=project / "work", timeout=30)
    assert forked is not None
    assert (forked.returncode, forked.stdout) == (plain.returncode, plain.stdout)
    assert forked.stderr.splitlines()[0] == plain.stderr.splitlines()[0] == "to stderr"
    assert forked.stderr.strip().splitlines()[-1] == plain.stderr.strip().splitlines()[-1]
    assert f"cwd {project / 'work'}" in forked.stdout and "marker m1" in forked.stdout
    assert "count 1" in forked.stdout  # the repo's module is fresh in every command


def test_minus_c_and_minus_m_forms(project: Path, zygote: Zygote) -> None:
    env = env_for(project)
    code = (
        "import sys, counter, __main__\n"
        "print(sys.argv, sys.path[0] == '', counter.VALUES, sorted(k for k in vars(__main__) if k[0] != '_'))"
    )
    for argv in ([sys.executable, "-c", code, "x"], [sys.executable, "-m", "counter"]):
        forked, plain = zygote.run(argv, env, project, timeout=30), run_bounded(argv, env=env, cwd=project, timeout=30)
        assert forked is not None
        assert (forked.returncode, forked.stdout, forked.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_the_command_s_threads_finish_before_it_ends(project: Path, zygote: Zygote) -> None:
    code = (
        "import threading, time\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "print('main done')\n"
    )
    result = zygote.run([sys.executable, "-c", code], env_for(project), project, timeout=30)
    assert result is not None and result.returncode == 0
    assert result.stdout == "main done\nthread done\n"


def test_a_command_may_run_subprocesses(project: Path, zygote: Zygote) -> None:
    code = "import subprocess, sys; sys.exit(subprocess.run(['true']).returncode + 3)"
    result = zygote.run([sys.executable, "-c", code], env_for(project), project, timeout=30)
    assert result is not None and result.returncode == 3


def test_a_timeout_ends_the_command_and_what_it_started(project: Path, zygote: Zygote) -> None:
    marker = f"delegate-zygote-test-{os.getpid()}"
    code = textwrap.dedent(
        f"""
        import subprocess, time
        subprocess.Popen(["sh", "-c", "exec -a {marker} sleep 300"])
        time.sleep(300)
        """
    )
    # No clock in the assertions: a timeout that did not fire shows as a command that ended on its own.
    result = zygote.run([sys.executable, "-c", code], env_for(project), project, timeout=1.0)
    assert result is not None and result.timed_out and result.returncode is None
    left = ["?"]
    for _ in range(200):  # the group was killed; give a loaded machine a moment to reap it
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False).stdout.split()
        if not left:
            break
        time.sleep(0.05)
    assert left == []
    ok = zygote.run([sys.executable, "-c", "print('still serving')"], env_for(project), project, timeout=30)
    assert ok is not None and ok.stdout == "still serving\n"


# Each command checks in and waits until all four have: run one after another, the first would give up.
RENDEZVOUS = """
import os, sys, time
folder = sys.argv[1]
open(os.path.join(folder, str(os.getpid())), "w").close()
for _ in range(1200):
    if len(os.listdir(folder)) >= 4:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(7)
"""


def test_commands_run_side_by_side(project: Path, zygote: Zygote, tmp_path: Path) -> None:
    results: list[object] = []
    folder = tmp_path / "rendezvous"
    folder.mkdir()

    def one() -> None:
        results.append(zygote.run([sys.executable, "-c", RENDEZVOUS, str(folder)], env_for(project), project, 90))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [getattr(r, "returncode", None) for r in results] == [0, 0, 0, 0]


def test_another_pythonpath_or_interpreter_is_left_to_a_plain_subprocess(project: Path, zygote: Zygote) -> None:
    other = clean_env({"PYTHONPATH": str(project)})
    assert zygote.run([sys.executable, "-c", "pass"], other, project, timeout=30) is None
    assert zygote.run(["/usr/bin/env", "true"], env_for(project), project, timeout=30) is None


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Zygote.supported()
    monkeypatch.setenv("DELEGATE_NO_ZYGOTE", "1")
    assert not Zygote.supported()
