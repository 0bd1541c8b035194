"""Stop strings split over tokens are caught, and never emitted."""

from __future__ import annotations

from tenantgate.local.stop_sequences import StopScanner


def test_a_stop_split_over_pieces_is_withheld_and_ends_the_text() -> None:
    scanner = StopScanner(("END",))
    out = [scanner.feed(p) for p in ["Hello E", "N", "D and more"]]
    assert "".join(out) == "Hello "
    assert scanner.stopped
    assert scanner.flush() == ""


def test_a_false_start_is_released_later() -> None:
    scanner = StopScanner(("END",))
    assert scanner.feed("an E") == "an "
    assert scanner.feed("gg") == "Egg"
    assert scanner.flush() == ""


def test_held_tail_is_flushed_when_generation_ends() -> None:
    scanner = StopScanner(("\n\n",))
    assert scanner.feed("line\n") == "line"
    assert scanner.flush() == "\n"


def test_the_earliest_of_several_stops_wins() -> None:
    scanner = StopScanner(("world", "lo"))
    assert scanner.feed("hello world") == "hel"
