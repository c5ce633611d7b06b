import pytest

from lakeport.sources.globs import compile_glob


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "x/y/a.csv", True),
        ("**/*.csv", "a.csv.gz", False),
        ("*.csv", "x/a.csv", False),
        ("*.csv", "a.csv", True),
        ("day=??/*.json", "day=01/f.json", True),
        ("day=??/*.json", "day=001/f.json", False),
        ("**", "anything/at/all", True),
        ("data[1].csv", "data[1].csv", True),
        ("data[1].csv", "data1.csv", False),
    ],
)
def test_glob_semantics(pattern, key, matches):
    assert bool(compile_glob(pattern).match(key)) is matches
