"""Revision files and the revision graph, unit by unit (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orchestrator.revisions import (
    RevisionGraph,
    _literal_ids,
    parse_revision_source,
    read_revision_file,
    revision_files_in,
)

# -- revisions: the files and the graph ----------------------------------------------------------------------------


def source(rev: str | None, down: object = None, extra: str = "") -> str:
    head = f'"""Add {rev}\n\nmore words"""\nfrom alembic import op\n\n'
    ident = f"revision = {rev!r}\n" if rev is not None else ""
    return (
        f"{head}{ident}down_revision = {down!r}\n{extra}\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )


def rev_file(rev: str | None, down: object = None, extra: str = "", rel: str | None = None):
    name = rel or f"versions/{rev}.py"
    return parse_revision_source(source(rev, down, extra), path=Path(name), rel=name)


def test_a_revision_file_is_read_with_its_ids_lines_functions_and_message() -> None:
    rf = rev_file("b2", "a1", 'branch_labels = ("feature",)\ndepends_on: str = "z9"')
    assert (rf.revision, rf.down_revisions, rf.branch_labels, rf.depends_on) == ("b2", ("a1",), ("feature",), ("z9",))
    assert rf.message == "Add b2"
    assert rf.lines == {"revision": 6, "down_revision": 7, "branch_labels": 8, "depends_on": 9}
    assert rf.upgrade is not None and rf.upgrade.name == "upgrade"
    assert rf.downgrade is not None and rf.downgrade.name == "downgrade"
    assert rf.unresolved == [] and rf.syntax_error is None and rf.label == "b2"


def test_a_merge_revision_has_two_parents() -> None:
    assert rev_file("m1", ("a1", "b1")).down_revisions == ("a1", "b1")
    assert rev_file("m1", ["a1", "b1"]).down_revisions == ("a1", "b1")


def test_ids_that_are_not_literals_are_unresolved() -> None:
    rf = rev_file("c3", None, "down_revision = PARENT\nbranch_labels = make()")
    assert rf.unresolved == ["down_revision", "branch_labels"]
    assert rf.down_revisions == () and rf.branch_labels == ()


def test_a_file_without_a_revision_is_labelled_by_its_name() -> None:
    rf = rev_file(None, None, rel="versions/0007_orphan.py")
    assert rf.revision is None and rf.label == "0007_orphan"


def test_revision_none_is_no_revision() -> None:
    rf = parse_revision_source("revision = None\n", path=Path("x.py"), rel="x.py")
    assert rf.revision is None and rf.unresolved == []


def test_an_annotated_assignment_without_a_value_is_skipped() -> None:
    rf = parse_revision_source('revision: str\nrevision2 = "x"\n', path=Path("x.py"), rel="x.py")
    assert rf.revision is None and rf.lines == {}


def test_a_syntax_error_is_kept_with_its_line() -> None:
    rf = parse_revision_source('"""x"""\nrevision = "a"\ndef upgrade(:\n', path=Path("x.py"), rel="x.py")
    assert rf.tree is None and rf.syntax_error is not None and rf.syntax_error[0] == 3
    assert rf.revision is None


def test_a_file_without_a_docstring_has_no_message_and_other_functions_are_not_taken() -> None:
    rf = parse_revision_source('revision = "a"\ndef helper():\n    pass\n', path=Path("x.py"), rel="x.py")
    assert rf.message == "" and rf.upgrade is None and rf.downgrade is None


@pytest.mark.parametrize(
    ("value", "ids"),
    [("None", ()), ("'a'", ("a",)), ("('a', 'b')", ("a", "b")), ("['a']", ("a",)), ("{'a'}", ("a",)),
     ("frozenset()", None), ("('a', 1)", None), ("1", None), ("f(x)", None), ("1 +", None)],
)  # fmt: skip
def test_literal_ids(value: str, ids: tuple[str, ...] | None) -> None:
    try:
        node = ast.parse(value, mode="eval").body
    except SyntaxError:
        node = ast.Name(id="broken")
    assert _literal_ids(node) == ids


def test_a_file_that_is_not_utf8_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "versions" / "bad.py"
    path.parent.mkdir()
    path.write_bytes(b'revision = "\xff"\n')
    rf = read_revision_file(path, repo=tmp_path)
    assert rf.rel == "versions/bad.py"
    assert rf.syntax_error is not None and rf.syntax_error[0] == 1 and "UTF-8" in rf.syntax_error[1]


def test_paths_outside_the_repo_stay_as_given(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text('revision = "a"\n')
    assert read_revision_file(path, repo=tmp_path / "elsewhere").rel == path.as_posix()
    assert read_revision_file(path).rel == path.as_posix()


def test_revision_files_are_found_recursively_without_init_or_caches(tmp_path: Path) -> None:
    for rel in ("b.py", "a/c.py", "__init__.py", "__pycache__/d.py", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in revision_files_in(tmp_path)] == ["a/c.py", "b.py"]


def graph(*files: tuple[str, object]) -> RevisionGraph:
    return RevisionGraph(rev_file(rev, down) for rev, down in files)


def test_the_graph_of_a_branch_and_a_merge() -> None:
    g = graph(("a", None), ("b", "a"), ("c", "a"), ("m", ("b", "c")), ("z", None))
    assert g.heads == ["m", "z"] and g.bases == ["a", "z"]
    assert g.parents("m") == ("b", "c") and sorted(g.children["a"]) == ["b", "c"]
    assert g.ancestors("m") == {"a", "b", "c"}
    assert g.ancestors("m", include_self=True) == {"a", "b", "c", "m"}
    assert g.ancestors("a") == set()
    assert g.descendants("a") == {"b", "c", "m"} and g.descendants("m") == set()
    assert g.descendants("nope") == set()
    assert g.topological() == ["a", "b", "c", "m", "z"]
    assert g.topological(["m", "c", "x"]) == ["c", "m"]


def test_topological_order_is_parents_first_not_by_id() -> None:
    g = graph(("z1", None), ("a2", "z1"), ("m3", "a2"), ("b4", "m3"))
    assert g.topological() == ["z1", "a2", "m3", "b4"]
    assert g.topological(["b4", "a2"]) == ["a2", "b4"]


def test_topological_breaks_ties_by_id_at_every_step() -> None:
    g = graph(("r", None), ("y", "r"), ("b", "r"), ("k", "b"), ("c", "b"))
    assert g.topological() == ["r", "b", "c", "k", "y"]


def test_a_cycle_leaves_its_members_out_of_the_order() -> None:
    g = graph(("a", None), ("b", ("a", "c")), ("c", "b"))
    assert g.topological() == ["a"]
    assert g.ancestors("c") == {"a", "b", "c"}


def test_missing_parents_and_duplicates_are_kept() -> None:
    g = RevisionGraph(
        [rev_file("a", None), rev_file("b", "gone"), rev_file("a", None, rel="versions/a_copy.py"), rev_file(None)]
    )
    assert [(rf.revision, parent) for rf, parent in g.missing_parents] == [("b", "gone")]
    assert [rf.rel for rf in g.duplicates["a"]] == ["versions/a.py", "versions/a_copy.py"]
    assert g.by_id["a"].rel == "versions/a.py"
    assert g.parents("b") == () and g.bases == ["a"] and g.heads == ["a", "b"]
    assert len(g.files) == 4


def test_from_folder_reads_every_revision(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.py").write_text(source("a"))
    (tmp_path / "v" / "b.py").write_text(source("b", "a"))
    g = RevisionGraph.from_folder(tmp_path / "v", repo=tmp_path)
    assert g.heads == ["b"] and g.by_id["b"].rel == "v/b.py"


def test_a_file_with_a_nul_byte_is_a_syntax_error_on_line_1() -> None:
    rf = parse_revision_source('revision = "a"\n\0\n', path=Path("x.py"), rel="x.py")
    assert rf.syntax_error == (1, "source code string cannot contain null bytes")


def test_revision_files_named_with_digits_or_capitals_are_found(tmp_path: Path) -> None:
    for rel in ("0001_base.py", "Z_upper.py", "__init__.py"):
        (tmp_path / rel).write_text("")
    assert [p.name for p in revision_files_in(tmp_path)] == ["0001_base.py", "Z_upper.py"]


def test_a_chained_assignment_of_ids_that_are_not_literals_leaves_both_unresolved() -> None:
    rf = rev_file("c3", None, "down_revision = branch_labels = make()")
    assert rf.unresolved == ["down_revision", "branch_labels"]


def test_a_revision_given_as_a_list_takes_its_first_id() -> None:
    assert rev_file("x", None, 'revision = ["first", "second"]').revision == "first"


def test_a_file_without_a_revision_does_not_hide_the_files_after_it() -> None:
    g = RevisionGraph([rev_file(None), rev_file("a", None), rev_file("b", "a")])
    assert g.heads == ["b"] and sorted(g.by_id) == ["a", "b"]
