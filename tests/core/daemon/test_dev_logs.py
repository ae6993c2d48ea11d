"""scatter dev keeps each daemon's log bounded: copy-truncate to <name>.log.1 past the limit."""

from __future__ import annotations

from pathlib import Path

from scatter.dev import rotate_log


def test_a_log_past_its_limit_is_copied_aside_and_emptied_and_the_writer_appends_on(tmp_path: Path) -> None:
    log = tmp_path / "hoster-0.log"
    with log.open("ab") as writer:  # the daemon's stdout: opened once, for appending
        writer.write(b"old line\n" * 200)
        writer.flush()
        assert not rotate_log(log, max_bytes=10_000)  # under the limit: untouched
        assert rotate_log(log, max_bytes=1_000)
        assert log.stat().st_size == 0
        assert (tmp_path / "hoster-0.log.1").read_bytes() == b"old line\n" * 200
        writer.write(b"new line\n")
        writer.flush()
    assert log.read_bytes() == b"new line\n"  # appended at the start of the emptied file, no hole
    rotate_log(log, max_bytes=1)
    assert (tmp_path / "hoster-0.log.1").read_bytes() == b"new line\n"  # one predecessor kept


def test_a_missing_log_is_not_an_error(tmp_path: Path) -> None:
    assert not rotate_log(tmp_path / "absent.log")
