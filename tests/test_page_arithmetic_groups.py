"""The conv arithmetic page's grouped & separable part under Streamlit's AppTest: the five layers' counts side by
side, MobileNet's sentence, impossible groups in words, the wiring of one output channel, all kept in the link."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "app" / "lessons" / "arithmetic.py")


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in {"part": "groups", **params}.items():
        at.query_params[key] = value
    return at.run()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _column(at: AppTest, name: str) -> list:
    return list(at.dataframe[0].value[name])


def _html(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


def test_mobilenets_first_layer_side_by_side():
    at = _open()
    _clean(at)
    assert _column(at, "layer") == ["Plain 3 × 3", "Pointwise 1 × 1", "Grouped (g = 4)", "Depthwise 3 × 3",
                                    "Depthwise-separable 3 × 3"]
    # 32 → 64 on 112 × 112 with biases: by hand, 64·32·9 + 64; 64·32 + 64; 64·8·9 + 64; 32·9 + 32; both of those
    assert _column(at, "params") == [18_496, 2112, 4672, 320, 2432]
    assert _column(at, "mult_adds") == [112 * 112 * n for n in (18_432, 2048, 4608, 288, 2336)]
    assert _column(at, "saving") == ["the same", "9× fewer", "4× fewer", "64× fewer", "7.89× fewer"]
    assert len(at.get("vega_lite_chart")) == 2  # parameters and mult-adds as bars
    info = at.info[0].value
    assert "1/64 + 1/9 = 0.127" in info and "7.89× fewer" in info and "about 8–9× fewer mult-adds" in info
    assert not at.toggle(key="gbias").disabled and not [t for t in at.toggle if t.key == "quiz"]
    assert dict(at.query_params) == {"part": "groups"}  # the defaults need no words in the link


def test_settings_change_the_counts_and_go_into_the_link():
    at = _open()
    at.toggle(key="gbias").set_value(False)
    at.number_input(key="cin").set_value(6)
    at.number_input(key="cout").set_value(12)
    at.number_input(key="gk").set_value(5)
    at.number_input(key="gh").set_value(7)
    at.number_input(key="gw").set_value(9)
    at.number_input(key="g").set_value(3).run()
    _clean(at)
    assert _column(at, "params") == [12 * 6 * 25, 12 * 6, 12 * 2 * 25, 6 * 25, 6 * 25 + 12 * 6]
    assert _column(at, "mult_adds")[2] == 7 * 9 * 12 * 2 * 25
    assert _column(at, "formula")[4] == "6·1·5·5 + 12·6·1·1"
    assert "1/12 + 1/25" in at.info[0].value
    assert dict(at.query_params) == {"part": "groups", "gbias": "0", "cin": "6", "cout": "12", "gk": "5",
                                     "gh": "7", "gw": "9", "g": "3"}
    shared = _open(**{k: v for k, v in at.query_params.items() if k != "part"})
    _clean(shared)
    assert _column(shared, "params") == _column(at, "params")


def test_groups_that_do_not_divide_are_refused_in_words_with_the_ones_that_work():
    at = _open(cin="32", cout="48", g="3")  # 3 divides 48 but not 32
    _clean(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "3 groups cannot split the input channels C_in = 32 evenly" in errors[0]
    assert not at.dataframe
    assert [b.label for b in at.button] == ["g = 1", "g = 2", "g = 4", "g = 8", "g = 16"]
    at.button(key="use_groups_8").click().run()
    _clean(at)
    assert not at.error and _column(at, "layer")[2] == "Grouped (g = 8)" and at.query_params["g"] == "8"


def test_a_link_out_of_range_falls_back_with_a_note():
    at = _open(cin="0", g="abc", gkind="nonsense")
    _clean(at)
    assert _column(at, "params")[0] == 18_496
    assert [t.value for t in at.toast]  # the note that the link's values were not possible


def test_the_wiring_names_the_channels_one_output_channel_reads():
    at = _open(gout="10")
    _clean(at)
    md = [m.value for m in at.markdown]
    assert "Output channel 10 reads input channels 1–8 (8 of 32), group 1 of 4: one 3 × 3 window on each, " \
           "8·3·3 = 72 weights." in md
    picture = _html(at)
    assert picture.count('class="cv-band"') == 4 and picture.count("opacity: 0.75") == 1
    assert picture.count('class="cv-box on"') == 8 and picture.count("on chosen") == 1
    assert at.code[0].value == "nn.Conv2d(32, 64, 3, groups=4, padding='same')"

    at.segmented_control(key="gkind").set_value("depthwise").run()
    assert "Output channel 10 reads input channel 10 only: one 3 × 3 window, 9 weights; nothing mixes the " \
           "channels." in [m.value for m in at.markdown]
    assert _html(at).count('class="cv-band"') == 32 and at.code[0].value.startswith("nn.Conv2d(32, 32, 3, groups=32")

    at.segmented_control(key="gkind").set_value("separable").run()
    at.number_input(key="gout").set_value(64).run()  # a channel the separable layer has, the depthwise one not
    _clean(at)
    assert any(m.startswith("Output channel 64 reads all 32 input channels in two steps") for m in
               [m.value for m in at.markdown])
    assert at.code[0].value.splitlines() == ["nn.Conv2d(32, 32, 3, groups=32, padding='same')",
                                             "nn.Conv2d(32, 64, 1, padding='same')"]
    at.segmented_control(key="gkind").set_value("depthwise").run()  # only 32 outputs: the channel comes back in range
    _clean(at)
    assert at.number_input(key="gout").value == 32 and at.query_params["gout"] == "32"
