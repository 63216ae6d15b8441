from engine.gguf.stops import StopScanner


def test_stop_split_across_pieces_is_never_shown():
    s = StopScanner(["</answer>"])
    out = [s.feed(p) for p in ["The ans", "wer is 4</ans", "wer> trailing"]]
    assert "".join(t for t, _ in out) == "The answer is 4"
    assert [hit for _, hit in out] == [False, False, True]


def test_held_prefix_is_released_when_it_does_not_complete():
    s = StopScanner(["STOP"])
    assert s.feed("go ST") == ("go ", False)
    assert s.feed("ILL") == ("STILL", False)
    assert s.flush() == ""
    s.feed("end S")
    assert s.flush() == "S"


def test_no_stops_passes_through():
    assert StopScanner().feed("abc") == ("abc", False)
