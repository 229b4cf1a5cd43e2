"""The commands' progress bar (kernel/progress.py): drawn in place on a terminal only."""

from __future__ import annotations

import io

from kernel.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_redrawn_in_place_on_a_terminal_and_ends_its_line() -> None:
    out = Terminal()
    bar = ProgressBar("rebuild", 4, out)
    bar.step("a")
    bar.step("b")
    bar.show(4, "done")
    bar.close()
    lines = out.getvalue().split("\r")[1:]
    assert lines[0] == "rebuild [" + "#" * 7 + "-" * 23 + "] a"
    assert lines[1] == "rebuild [" + "#" * 15 + "-" * 15 + "] b"
    assert lines[2] == "rebuild [" + "#" * 30 + "] done\n"


def test_nothing_is_written_elsewhere_but_the_count_is_kept() -> None:
    out = io.StringIO()
    bar = ProgressBar("import", 10, out)
    bar.step()
    bar.step()
    bar.close()
    assert out.getvalue() == "" and bar.done == 2 and not bar.on_terminal
