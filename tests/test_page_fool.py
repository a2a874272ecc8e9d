"""Fool the network under AppTest: a real photo, the shipped cifar_cnn, and attacks that flip its answer."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import models
from cnnviz import attack
from cnnviz.datasets import samples
from cnnviz.inside import features
from cnnviz.results import robustness
from tests.conftest import needs_data

PAGE = str(Path(__file__).resolve().parent.parent / "app" / "lessons" / "fool.py")


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def said(at: AppTest) -> list[str]:
    """The class named in bold under the picture before and after: ["cat", "dog"]."""
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**") and "sure" in m.value]


def test_pgd_at_8_of_255_flips_the_answer_the_library_flips_it_to() -> None:
    at = page(model="cifar_cnn", img="sample:cat", method="pgd", eps="8")
    assert not at.exception, at.exception
    model, spec = models.load("cifar_cnn"), models.spec("cifar_cnn")
    x = models.transform("cifar_cnn")(samples.load("cat"))
    before = int(features.probabilities(model, x[None]).argmax())
    adv = attack.pgd(model, x, before, 8 / 255, spec.mean, spec.std)
    after = int(features.probabilities(model, adv[None]).argmax())
    assert after != before
    assert said(at) == [spec.classes[before], spec.classes[after]]
    assert any("Fooled" in s.value for s in at.success)


def test_no_push_changes_nothing_and_a_targeted_push_reaches_its_class() -> None:
    at = page(model="cifar_cnn", img="sample:cat", eps="0")
    assert not at.exception, at.exception
    first, second = said(at)
    assert first == second and not at.success
    ship = list(models.spec("cifar_cnn").classes).index("ship")
    at = page(model="cifar_cnn", img="sample:cat", method="pgd", eps="16", aim=str(ship))
    assert said(at)[1] == "ship"


def test_an_impossible_eps_from_a_link_falls_back_without_a_traceback() -> None:
    at = page(model="cifar_cnn", img="sample:cat", eps="99", aim="42")
    assert not at.exception, at.exception
    assert at.slider(key="eps").value == 4 and at.selectbox(key="aim").value == -1


@needs_data("mnist")
def test_the_fragility_chart_draws_a_line_per_zoo_model_of_the_data_set() -> None:
    at = page(model="mnist_cnn", img="sample:digit_3", eps="2")
    assert not at.exception, at.exception
    assert len(at.get("vega_lite_chart")) == 1  # what moved inside, not yet the fragility
    next(b for b in at.button if "Measure" in b.label).click().run()
    assert not at.exception, at.exception
    attacked, changed = at.get("vega_lite_chart")[1:]
    assert b"MNIST CNN" in attacked.proto.SerializeToString()  # the line of the one MNIST zoo model
    assert b"rotation (degrees)" in changed.proto.SerializeToString()
    at.segmented_control(key="change").set_value("shift").run()
    assert not at.exception, at.exception
    assert b"shift (pixels)" in at.get("vega_lite_chart")[2].proto.SerializeToString()
    examples = next(image for image in at.image if "12 pixels" in image.captions)
    assert list(examples.captions) == [f"{n} pixels" for n in robustness.CHANGES["shift"]]


def test_what_moved_inside_gives_the_librarys_growth_and_grad_cam_before_and_after() -> None:
    at = page(model="cifar_cnn", img="sample:cat", method="pgd", eps="8")
    assert not at.exception, at.exception
    model, spec = models.load("cifar_cnn"), models.spec("cifar_cnn")
    x = models.transform("cifar_cnn")(samples.load("cat"))
    adv = attack.pgd(model, x, 3, 8 / 255, spec.mean, spec.std)
    growth = attack.growth(model, x, adv)
    words = next(m.value for m in at.markdown if m.value.startswith("The push changed"))
    assert f"**{growth['input']:.0%}**" in words and f"**{growth['fc2']:.0%}**" in words
    after = spec.classes[int(features.probabilities(model, adv[None]).argmax())]
    cams = next(image for image in at.image if any(c.startswith("before:") for c in image.captions))
    assert list(cams.captions) == ["before: where it sees “cat”", f"after: where it sees “{after}”"]


def test_inside_a_model_links_here_with_its_model_and_image() -> None:
    inside = str(Path(PAGE).with_name("inside.py"))
    at = AppTest.from_file(inside, default_timeout=180)
    at.query_params["model"], at.query_params["img"] = "cifar_cnn", "sample:rocket"
    at.run()
    assert not at.exception, at.exception
    (link,) = [e for e in at.get("page_link") if "fool it" in e.proto.label]
    assert "fool" in link.proto.page
    assert "model=cifar_cnn" in link.proto.query_string and "img=sample" in link.proto.query_string
