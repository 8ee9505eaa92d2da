"""The fingerprint diff in words, on fingerprints built by hand (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

from orchestrator.verify.fingerprint import SchemaDifference, SchemaFingerprint, _text, trace_first


def fp(**objects: dict[str, dict[str, str]]) -> SchemaFingerprint:
    return SchemaFingerprint(objects=objects)


BASE = fp(
    relation={"public.a": {"kind": "r"}, "public.v": {"kind": "v"}},
    column={"public.a.id": {"type": "bigint"}, "public.v.id": {"type": "bigint"}},
    policy={"public.a.p": {"command": "r"}},
)


def messages(actual: SchemaFingerprint, expected: SchemaFingerprint) -> list[str]:
    return [d.message for d in actual.diff(expected)]


def test_an_extra_table_is_one_difference_its_children_are_not_repeated() -> None:
    actual = fp(
        relation={**BASE.objects["relation"], "public.b": {"kind": "r"}},
        column={**BASE.objects["column"], "public.b.id": {"type": "bigint"}},
        constraint={"public.b.b_pkey": {"definition": "PRIMARY KEY (id)"}},
        trigger={"public.b.t": {"definition": "x"}},
        policy={**BASE.objects["policy"], "public.b.p": {"command": "r"}},
    )
    assert messages(actual, BASE) == ["table public.b still exists"]


def test_a_missing_table_is_one_difference_named_by_the_expected_side() -> None:
    actual = fp(
        relation={"public.a": {"kind": "r"}}, column={"public.a.id": {"type": "bigint"}}, policy=BASE.objects["policy"]
    )
    assert messages(actual, BASE) == ["view public.v is missing"]


def test_a_missing_or_extra_column_of_a_kept_table_is_reported() -> None:
    actual = fp(
        relation=BASE.objects["relation"],
        column={"public.a.id": {"type": "bigint"}, "public.a.extra": {"type": "text"}},
        policy=BASE.objects["policy"],
    )
    assert messages(actual, BASE) == ["column public.a.extra still exists", "column public.v.id is missing"]


def test_differences_come_kind_by_kind_and_sorted_by_name() -> None:
    actual = fp(
        relation=BASE.objects["relation"],
        column=BASE.objects["column"],
        policy={"public.a.z": {"command": "r"}, "public.a.b": {"command": "r"}},
        extension={"pgcrypto": {"version": "1.3"}},
    )
    assert messages(actual, BASE) == [
        "policy public.a.b still exists",
        "policy public.a.p is missing",
        "policy public.a.z still exists",
        "extension pgcrypto still exists",
    ]


def test_a_changed_attribute_names_both_values() -> None:
    actual = fp(relation={"public.a": {"kind": "r", "owner": "app"}, "public.v": {"kind": "m"}})
    expected = fp(relation={"public.a": {"kind": "r", "owner": "postgres"}, "public.v": {"kind": "v"}})
    assert actual.diff(expected) == [
        SchemaDifference(
            kind="relation", name="public.a", change="changed", attribute="owner", expected="postgres",
            actual="app", what="table",
        ),
        SchemaDifference(
            kind="relation", name="public.v", change="changed", attribute="kind", expected="v", actual="m",
            what="materialized view",
        ),
    ]  # fmt: skip


def test_what_an_object_is_in_words() -> None:
    f = fp(relation={"public.s": {"kind": "S"}, "public.x": {}, "public.q": {"kind": "?"}})
    assert [f.what("relation", n) for n in ("public.s", "public.x", "public.q", "public.none")] == [
        "sequence",
        "table",
        "table",
        "table",
    ]
    assert f.what("default_acl", "x") == "default privileges"
    assert f.what("weird", "x") == "weird"


def test_tables_are_plain_and_partitioned_ones_only() -> None:
    f = fp(relation={"public.a": {"kind": "r"}, "public.p": {"kind": "p"}, "public.v": {"kind": "v"}, "public.n": {}})
    assert sorted(f.tables()) == ["public.a", "public.p"]


def test_touched_tables_are_new_or_changed_tables_and_parents_of_changed_children() -> None:
    base = fp(
        relation={"public.a": {"kind": "r"}, "public.b": {"kind": "r"}, "public.c": {"kind": "r"}},
        column={"public.a.id": {"type": "int"}, "public.b.id": {"type": "int"}},
    )
    now = fp(
        relation={
            "public.a": {"kind": "r"},
            "public.b": {"kind": "r"},
            "public.c": {"kind": "r", "row level security": "true"},
            "public.d": {"kind": "r"},
            "public.w": {"kind": "v"},
        },
        column={"public.a.id": {"type": "int"}, "public.b.id": {"type": "bigint"}, "public.w.id": {"type": "int"}},
        policy={"public.a.p": {"command": "r"}},
        index={"public.ix": {"definition": "x"}},
        trigger={"public.gone.t": {"definition": "x"}},
    )
    assert now.touched_tables(base) == ["public.a", "public.b", "public.c", "public.d"]
    assert base.touched_tables(base) == []


def test_trace_first_names_three_objects_at_most() -> None:
    diffs = [SchemaDifference(kind="relation", name=f"public.t{i}", change="extra", what="table") for i in range(4)]
    assert trace_first(diffs[:3]) == (
        "most likely a consequence of what the downgrade left behind "
        "(table public.t0, table public.t1, table public.t2): fix that first"
    )
    assert "table public.t2, ...)" in trace_first(diffs)
    assert "public.t3" not in trace_first(diffs)


def test_values_are_text_as_they_are_or_as_sorted_json() -> None:
    assert _text("x") == "x"
    assert _text({"b": 1, "a": [True]}) == '{"a": [true], "b": 1}'
    assert _text(False) == "false"


def test_trace_first_with_one_object_has_no_ellipsis() -> None:
    one = [SchemaDifference(kind="relation", name="public.t0", change="extra", what="table")]
    assert trace_first(one).endswith("(table public.t0): fix that first")


def test_children_of_an_extra_table_are_skipped_and_the_next_table_is_still_compared() -> None:
    actual = fp(
        relation={"public.b": {"kind": "r"}, "public.c": {"kind": "r"}},
        column={"public.b.id": {"type": "int"}, "public.c.id": {"type": "bigint"}},
    )
    expected = fp(relation={"public.c": {"kind": "r"}}, column={"public.c.id": {"type": "int"}})
    assert messages(actual, expected) == [
        "table public.b still exists",
        "column public.c.id differs: type was int, is bigint",
    ]
