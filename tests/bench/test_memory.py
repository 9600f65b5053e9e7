"""The memory table: each download's peak at a larger size against its peak at the benchmark size."""

import argparse

import pytest

from bench.memory import EXPORT, WALK, memory_table, parse_scales, scaled_url


def _size(scale, walk_mb, export_mb):
    return {
        "scale": scale,
        "presentations": 200_000 * scale,
        "walks": [
            {"name": WALK, "rows": 181_977 * scale, "peak_mb": walk_mb},
            {"name": EXPORT, "rows": 200_000 * scale, "peak_mb": export_mb},
        ],
    }


def test_peaks_within_ten_percent_are_flat():
    table = memory_table([_size(2, 99.0, 110.0), _size(1, 92.0, 103.0)])
    assert table["flat"] is True
    assert table["verdict"] == "within 10 %"
    assert [(row["name"], row["scale"], row["presentations"]) for row in table["rows"]] == [
        (WALK, 1, 200_000),
        (WALK, 2, 400_000),
        (EXPORT, 1, 200_000),
        (EXPORT, 2, 400_000),
    ]
    assert table["rows"][1]["ratio"] == pytest.approx(99.0 / 92.0)


def test_a_peak_that_grows_past_ten_percent_is_named():
    table = memory_table([_size(1, 92.0, 103.0), _size(2, 93.0, 120.0)])
    assert table["flat"] is False
    assert table["verdict"] == "not within 10 % (worst ratio 1.17x)"


def test_the_benchmark_size_alone_is_no_verdict():
    table = memory_table([_size(1, 92.0, 103.0)])
    assert table["flat"] is False
    assert table["verdict"].startswith("only the benchmark size")


def test_scales_always_include_the_benchmark_size():
    assert parse_scales("2") == [1, 2]
    assert parse_scales("1,2,3") == [1, 2, 3]


@pytest.mark.parametrize("text", ["two", "0,2", "1,-2"])
def test_a_scale_that_is_not_a_whole_number_from_one_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--memory-scales"):
        parse_scales(text)


def test_a_larger_size_gets_its_own_database():
    url = "postgres://postgres@127.0.0.1:5432/neuroma_bench"
    assert scaled_url(url, 2) == "postgres://postgres@127.0.0.1:5432/neuroma_bench_x2"
