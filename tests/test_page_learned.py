"""What it learned: the channel explorer and the embedding projector under AppTest, on real data and checkpoints."""
from __future__ import annotations

import re
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

import models
from cnnviz.datasets import data, explore
from cnnviz.inside import features
from tests.conftest import needs_data

LESSONS = Path(__file__).resolve().parent.parent / "app" / "lessons"
TIMEOUT = 240  # s: the first run imports PyTorch, scans 2,000 test images and optimises pictures on 2 cores
VALUE = re.compile(r"^(-?[\d.]+) · test #(\d+) \((\w+)\)$")


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(LESSONS / f"{name}.py"), default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def examples(at: AppTest) -> list[tuple[float, int, str]]:
    """(value, test index, class) under each of the channel's top images."""
    found = [VALUE.match(c) for image in at.image for c in image.captions]
    return [(float(m[1]), int(m[2]), m[3]) for m in found if m]


@needs_data("mnist")
def test_a_channels_favourite_images_are_those_a_brute_force_pass_finds() -> None:
    at = page("channels", model="mnist_cnn", layer="conv2", ch="5", steps="32")
    assert not at.exception, at.exception
    shown = examples(at)
    assert len(shown) == 9
    test = data.load("mnist", "test")
    model = models.load("mnist_cnn")
    every = torch.arange(0, len(test), 5)  # the page scans every 5th of the 10,000 test images: 2,000
    x = explore.normalise(test.images[every], models.ZOO["mnist_cnn"].mean, models.ZOO["mnist_cnn"].std)
    maxima = features.extract(model, x, ["conv2"])["conv2"][:, 5].amax(dim=(1, 2))  # (N,)
    values, indices = maxima.topk(9)
    indices = every[indices]
    assert [i for _, i, _ in shown] == indices.tolist()
    assert all(abs(v - truth) <= 0.006 for (v, _, _), truth in zip(shown, values.tolist()))  # shown to 2 places
    assert [c for _, i, c in shown] == [test.classes[int(test.labels[i])] for i in indices]
    low = page("channels", model="mnist_cnn", layer="conv2", ch="5", steps="32", low="true")
    assert [i for _, i, _ in examples(low)] == every[maxima.topk(9, largest=False).indices].tolist()


@needs_data("mnist")
def test_a_tile_of_the_layer_picks_its_channel_and_the_link_keeps_it() -> None:
    at = page("channels", model="mnist_cnn", layer="conv1", steps="32")
    assert not at.exception, at.exception
    at.button(key="glance_7").click().run()
    assert at.number_input(key="ch").value == 7
    assert str(at.query_params["ch"]).strip("[]'") == "7"
    assert any("Channel 7 of layer conv1" in h.value for h in at.subheader)


@needs_data("mnist")
def test_impossible_link_values_are_refused_with_a_note_not_a_traceback() -> None:
    at = page("channels", model="mnist_cnn", layer="nope", ch="999", steps="7")
    assert not at.exception, at.exception
    assert at.selectbox(key="layer").value == features.conv_layers(models.load("mnist_cnn"))[-1]  # the last conv
    assert at.number_input(key="ch").value == 0
    assert at.select_slider(key="steps").value == 128


@needs_data("mnist")
def test_the_projector_shows_the_classes_drawn_apart_by_training() -> None:
    at = page("projector", model="mnist_cnn", method="pca")
    assert not at.exception, at.exception
    scores = [float(m.value) for m in at.metric]
    assert len(scores) == 2 and scores[1] > scores[0] + 0.1, scores  # trained separates the digits, untrained not
    assert len(at.get("vega_lite_chart")) == 2


@needs_data("mnist")
def test_the_class_scores_are_a_layer_too_with_each_class_named() -> None:
    at = page("channels", model="mnist_cnn", layer="scores", ch="3", steps="32")
    assert not at.exception, at.exception
    assert any("Class 3: **3**" in c.value for c in at.caption)
    assert {c for _, _, c in examples(at)} == {"3"}  # a digit's score is highest on pictures of that digit


@needs_data("mnist")
def test_a_map_up_close_in_inside_links_to_what_its_channel_learned() -> None:
    at = page("inside", model="mnist_cnn", view="closeup", layer="conv2", ch="6")
    assert not at.exception, at.exception
    links = [e for e in at.get("page_link") if "What this channel learned" in e.proto.label]
    assert len(links) == 1
    assert "channels" in links[0].proto.page and "layer=conv2" in links[0].proto.query_string \
        and "ch=6" in links[0].proto.query_string and "model=mnist_cnn" in links[0].proto.query_string
