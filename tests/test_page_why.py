"""Why it answers under AppTest: the shipped cifar_cnn on the cat photo, every method, the sanity check."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from streamlit.testing.v1 import AppTest

import models
from cnnviz import attribution
from cnnviz.datasets import samples

PAGE = str(Path(__file__).resolve().parent.parent / "app" / "lessons" / "why.py")


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def captions(at: AppTest) -> list[str]:
    """The captions of the row of maps: ["the picture", "Gradient · deletion 0.07", ...]."""
    return next(list(image.captions) for image in at.image if "the picture" in image.captions)


def titles(at: AppTest) -> list[str]:
    """The methods whose maps are drawn."""
    return [c.split(" · ")[0] for c in captions(at)[1:]]


def areas(at: AppTest) -> dict[str, float]:
    return {c.split(" · ")[0]: float(c.split("deletion ")[1]) for c in captions(at)[1:]}


def test_every_method_is_drawn_with_the_deletion_area_the_library_gives() -> None:
    at = page(model="cifar_cnn", img="sample:cat")
    assert not at.exception, at.exception
    assert titles(at) == list(attribution.METHODS.values())
    model, spec = models.load("cifar_cnn"), models.spec("cifar_cnn")
    x = models.transform("cifar_cnn")(samples.load("cat"))
    heat = attribution.explain(model, x, 3, attribution.settings_for(32), spec.mean, spec.std, ["integrated"])
    expected = attribution.area(attribution.deletion(model, x, 3, heat["integrated"], mean=spec.mean, std=spec.std))
    assert areas(at)["Integrated gradients"] == float(f"{expected:.2f}")
    assert len(at.get("vega_lite_chart")) == 1  # the deletion curves


def test_picking_methods_and_a_class_redraws_only_those() -> None:
    at = page(model="cifar_cnn", img="sample:cat")
    at.pills(key="methods").set_value(["gradcam", "guided"]).run()
    assert not at.exception, at.exception
    assert titles(at) == ["Grad-CAM", "Guided backprop"]
    at.selectbox(key="explain").set_value(8).run()  # ship
    assert any("score of **ship**" in m.value for m in at.markdown)
    at.pills(key="methods").set_value([]).run()
    assert any("at least one method" in i.value for i in at.info)


def test_the_sanity_check_shows_gradient_maps_falling_apart_and_guided_backprop_holding() -> None:
    at = page(model="cifar_cnn", img="sample:cat", methods="gradient,guided")
    at.button[0].click().run()
    assert not at.exception, at.exception
    shown = at.select_slider(key="stage")
    stages = len(attribution.weighted_layers(models.load("cifar_cnn"))) + 1
    assert shown.value == stages - 1 and len(shown.options) == stages
    rho = {m.value.split("**")[1]: float(m.value.split("ρ = ")[1]) for m in at.markdown if "ρ = " in m.value}
    assert len(at.get("vega_lite_chart")) == 2  # the deletion curves and the correlations
    assert rho["Gradient"] < 0.5 and set(rho) == {"Gradient", "Guided backprop"}
    shown.set_value(0).run()  # nothing randomised yet: every map equals itself
    assert all(float(m.value.split("ρ = ")[1]) == 1.0 for m in at.markdown if "ρ = " in m.value)


def test_impossible_settings_from_a_link_fall_back_without_a_traceback() -> None:
    at = page(model="mnist_cnn", img="sample:digit_3", methods="gradient,nonsense", steps="7", window="99",
              baseline="../../etc", explain="42")
    assert not at.exception, at.exception
    assert at.pills(key="methods").value == list(attribution.METHODS)
    assert (st := at.session_state)["steps"] == 64 and st["window"] == 4 and st["baseline"] == "black"
    assert at.selectbox(key="explain").value == -1


def test_the_occlusion_window_drawn_is_where_the_map_is_hottest() -> None:
    from app.views import why

    heat = np.zeros((8, 8))
    heat[5:7, 1:3] = 1.0
    assert why.worst_window(heat, 2, 1) == (5, 1)
    assert why.worst_window(heat, 2, 2) in {(4, 0), (4, 2), (6, 0), (6, 2)}
    picture = np.full((8, 8, 3), 200, np.uint8)
    slid = why.occlusion_slide(picture, 2, 2, (4, 2))
    scale = slid.shape[0] // 8
    assert (slid[4 * scale:6 * scale, 2 * scale:4 * scale] == 0).all()
    assert torch.equal(torch.from_numpy(picture), torch.full((8, 8, 3), 200, dtype=torch.uint8))  # untouched


def test_inside_a_model_links_here_and_to_fool_the_network_with_the_same_model_and_image() -> None:
    at = AppTest.from_file(str(Path(PAGE).with_name("inside.py")), default_timeout=180)
    at.query_params["model"], at.query_params["img"] = "cifar_cnn", "sample:cat"
    at.run()
    assert not at.exception, at.exception
    links = {link.proto.page: link.proto.query_string for link in at.get("page_link")}
    assert links["why"] == links["fool"] == "model=cifar_cnn&img=sample%3Acat"
