"""The HTML pictures: probability bars."""
from __future__ import annotations

import re

from cnnviz.lessons import gridhtml


def test_bars_are_as_long_as_their_shares_and_escape_their_labels() -> None:
    out = gridhtml.bars(["cat", "<dog>", "ship"], [0.625, 0.25, 0.125], colour="#123456", mark=0)
    widths = [float(w) for w in re.findall(r"width: ([\d.]+)%", out)]
    assert widths == [62.5, 25.0, 12.5]
    assert re.findall(r'class="cv-num">([^<]+)<', out) == ["62.5%", "25.0%", "12.5%"]
    assert '<div class="cv-mark">cat</div>' in out and "&lt;dog&gt;" in out and "<dog>" not in out
    assert out.count("#123456") == 3
