import pytest

from orchestrator.config.units import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("120s", 120),
        ("2m", 120),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1h", 3600),
        ("0s", 0),
        ("1.5s", 1.5),
        (" 2m ", 120),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "120", "2 minutes", "s", "1x", "m2", "-1s", "1s2"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.25, 1, 59, 60, 90, 3600, 3725])
def test_format_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
