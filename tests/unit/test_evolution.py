import pytest

from lakeport.domain.evolution import EvolutionRefused, plan_evolution

TABLE = [("id", "int"), ("amount", "float"), ("day", "date"), ("name", "string")]


def test_identical_schema_changes_nothing():
    evo = plan_evolution(TABLE, list(TABLE))
    assert evo.fields == TABLE and not evo.changes_table


def test_new_columns_are_added_at_the_end():
    evo = plan_evolution(TABLE, [*TABLE, ("note", "string")])
    assert evo.added == [("note", "string")]
    assert evo.fields == [*TABLE, ("note", "string")]


def test_table_int_and_float_are_promoted_when_the_file_is_wider():
    evo = plan_evolution(
        TABLE, [("id", "long"), ("amount", "double"), ("day", "date"), ("name", "string")]
    )
    assert evo.promoted == [("id", "long"), ("amount", "double")]
    assert evo.fields[:2] == [("id", "long"), ("amount", "double")]


def test_narrower_file_values_are_cast_into_the_table_type():
    table = [("n", "double"), ("t", "timestamp")]
    evo = plan_evolution(table, [("n", "long"), ("t", "date")])
    assert evo.fields == table and not evo.changes_table


@pytest.mark.parametrize(
    ("table", "incoming", "fragment"),
    [
        ([("n", "long")], [("n", "double")], "cannot change from long to double"),
        ([("n", "long")], [("n", "string")], "cannot change from long to string"),
        ([("a", "string"), ("b", "long")], [("a", "string")], "'b' is missing"),
    ],
)
def test_unsafe_changes_are_refused_with_reasons(table, incoming, fragment):
    with pytest.raises(EvolutionRefused) as info:
        plan_evolution(table, incoming)
    assert any(fragment in r for r in info.value.reasons)
