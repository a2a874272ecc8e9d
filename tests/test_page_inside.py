"""The Inside-a-model page under AppTest, with real images and the real zoo checkpoints."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import models
from cnnviz.datasets import data, digits, samples
from cnnviz.inside import features
from tests.conftest import needs_data

PAGE = str(Path(__file__).resolve().parent.parent / "app" / "lessons" / "inside.py")
TIMEOUT = 180  # s: the first run imports PyTorch and loads the model on a busy 2-core machine


def needs_checkpoint(name: str) -> pytest.MarkDecorator:
    path = models.ZOO[name].checkpoint
    return pytest.mark.skipif(not path.is_file(), reason=f"{path} not written yet (the zoo trains in the background)")


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


LAYER_CAPTION = re.compile(r"[\w.]+ · \w+ \(")


def layer_captions(at: AppTest) -> list[str]:
    """The caption under each layer's tiled maps, e.g. "conv1 · Conv2d (convolution) · 6 maps of 26×26, ..."."""
    return [c for image in at.image for c in image.captions if LAYER_CAPTION.match(c)]


def map_grids(at: AppTest):
    """The one image element that holds every layer's tiled maps."""
    return next(image for image in at.image if any(LAYER_CAPTION.match(c) for c in image.captions))


def bars(at: AppTest) -> str:
    """The HTML of the probability bars on the page."""
    return "".join(e.proto.body for e in at.get("html"))


def no_trouble(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@needs_data("mnist")
@needs_checkpoint("mnist_cnn")
def test_mnist_test_image_through_every_view() -> None:
    test = data.load("mnist", "test")
    at = page(model="mnist_cnn", img="test:mnist:0")
    no_trouble(at)
    truth = test.classes[int(test.labels[0])]
    assert f"says<br><b>{truth}</b>" in text(at)  # the trained network reads the real test digit

    assert len(layer_captions(at)) == 6  # conv1, pool1, relu1, conv2, pool2, relu2: one tiled image each
    assert [img.url[-4:] for img in map_grids(at).proto.imgs] == [".jpg"] * 6  # sent as JPEG, one element

    # a layer and channel picked: the numbers shown equal a plain forward pass of the same input
    at.session_state["view"] = "closeup"
    at.run()
    at.selectbox(key="layer").set_value("conv2").run()
    at.number_input(key="ch").set_value(5).run()
    no_trouble(at)
    x = models.transform("mnist_cnn")(digits.prepare(test.pil(0)).image)[None]
    m = features.extract(models.load("mnist_cnn"), x, ["conv2"])["conv2"][0, 5]
    assert f"**conv2, channel 5**: 8×8 values from **{m.min():.3g}** to **{m.max():.3g}**" in text(at)
    assert (at.query_params["layer"], at.query_params["ch"]) == ("conv2", "5")

    # Grad-CAM for a chosen class instead of the predicted one
    at.session_state["view"] = "gradcam"
    at.run()
    at.selectbox(key="cam_class").set_value(3).run()
    no_trouble(at)
    with torch.no_grad():
        p3 = torch.softmax(models.load("mnist_cnn")(x), 1)[0, 3].item()
    assert f"the 8×8 maps of **conv2** made the score of **3** ({p3:.1%})" in text(at)
    assert at.query_params["cam_class"] == "3"  # the choice is in the URL
    cams = next(image for image in at.image if any(c.startswith("Grad-CAM for") for c in image.captions))
    assert cams.captions == ["What the model sees", "Grad-CAM for “3” at conv2",
                             "Raw activations of conv2 (mean of 20 maps)"]  # three pictures, one element

    for view in ("filters", "compare"):
        at.session_state["view"] = view
        at.run()
        no_trouble(at)
    assert "#### Untrained" in text(at) and "#### Trained" in text(at)


@needs_checkpoint("cifar_cnn")
def test_cifar_cnn_photo_prediction_matches_the_model_and_views_run() -> None:
    at = page(model="cifar_cnn", img="sample:cat")
    no_trouble(at)
    net = models.load("cifar_cnn")
    with torch.no_grad():
        probs = torch.softmax(net(models.transform("cifar_cnn")(samples.load("cat"))[None]), 1)[0]
    best = int(probs.argmax())
    assert f"<b>{models.ZOO['cifar_cnn'].classes[best]}</b><br>{probs[best]:.0%} sure" in text(at)
    top = probs.argsort(descending=True)[:5]  # the bars: the five likeliest classes, in order, to 0.1%
    shown = re.findall(r"<div(?: class=\"cv-mark\")?>([^<]+)</div><div class=\"cv-track\">.*?"
                       r"<div class=\"cv-num\">([\d.]+)%</div>", bars(at))
    assert shown == [(models.ZOO["cifar_cnn"].classes[i], f"{100 * probs[i]:.1f}") for i in top.tolist()]
    at.radio(key="sort").set_value("mean").run()
    at.radio(key="norm").set_value("layer").run()
    no_trouble(at)
    captions = [c for image in at.image for c in image.captions]
    assert sum("strongest first" in c for c in captions) == 9  # every layer's grid, reordered
    assert (at.query_params["sort"], at.query_params["norm"]) == ("mean", "layer")
    at.session_state["view"] = "closeup"
    at.run()
    assert any("the whole layer's range" in c.value for c in at.caption)  # the closer look uses the layer's scale
    for view in ("filters", "gradcam", "compare"):
        at.session_state["view"] = view
        at.run()
        no_trouble(at)


def test_missing_checkpoint_is_a_clear_error_and_the_page_goes_on(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path) -> None:
    from app import state

    monkeypatch.setattr(models, "ZOO_DIR", tmp_path)  # no checkpoint anywhere
    state._zoo_model.clear()
    at = page(model="cifar_cnn", img="sample:cat")
    assert not at.exception
    assert len(at.error) == 1 and "has no trained checkpoint yet" in at.error[0].value
    assert "python -m models.train cifar_cnn --ship" in at.error[0].value
    assert "The untrained network says" in text(at)
    assert len(layer_captions(at)) == 9  # the untrained network's layers are still all shown
    state._zoo_model.clear()


def test_resnet18_with_imagenet_weights_in_the_cache_names_imagenet_classes(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path) -> None:
    """Offline there are no ImageNet weights; a weights file in torchvision's cache switches them on."""
    import os

    from torchvision.models import ResNet18_Weights, resnet18

    at = page(model="resnet18", img="sample:cat")
    assert not at.exception
    assert [t.key for t in at.toggle] == ["guess"]  # no weights here: no ImageNet switch, and the page says why
    assert any("not on this computer" in c.value for c in at.caption)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = tmp_path / "hub" / "checkpoints" / os.path.basename(ResNet18_Weights.IMAGENET1K_V1.url)
    weights.parent.mkdir(parents=True)
    torch.manual_seed(0)
    stand_in = resnet18(num_classes=1000)  # random weights in the shape of the real ones (no download in tests)
    torch.save(stand_in.state_dict(), weights)
    at = page(model="resnet18", img="sample:cat", imagenet="1", view="gradcam")
    assert not at.exception, [e.value for e in at.exception]
    transform = ResNet18_Weights.IMAGENET1K_V1.transforms()
    with torch.no_grad():
        probs = torch.softmax(stand_in.eval()(transform(samples.load("cat").convert("RGB"))[None]), 1)[0]
    name = ResNet18_Weights.IMAGENET1K_V1.meta["categories"][int(probs.argmax())]
    assert f"<b>{name}</b>" in text(at)
    assert "layer4.1.conv2" in text(at)  # at 224x224 the last conv has 7x7 maps, so Grad-CAM uses it


def test_a_run_trained_in_the_app_opens_from_its_checkpoint() -> None:
    """A run folder with a custom network (as the Train page writes one) is listed and looked inside."""
    from cnnviz.nets import builder
    from cnnviz.training import checkpoint, runs

    layers = [{"type": "conv", "out": 6, "kernel": 3}, {"type": "relu"}, {"type": "pool", "kind": "max", "kernel": 2},
              {"type": "flatten"}, {"type": "linear", "out": 10}]
    torch.manual_seed(3)
    net = builder.build(layers, (1, 28, 28))
    run = runs.Run.create("tiny custom")  # under the test's own runs folder (conftest)
    run.update(config={"model": "custom", "dataset": "mnist"}, status="finished")
    checkpoint.save(run.checkpoint, net, {"arch": "custom", "arch_args": {"layers": layers}, "dataset": "mnist",
                                          "input_shape": [1, 28, 28], "classes": [str(d) for d in range(10)],
                                          "mean": [0.1307], "std": [0.3081]})
    at = page(model=f"run:{run.name}", img="sample:digit_7")
    no_trouble(at)
    assert len(layer_captions(at)) == 3  # conv1, relu1, pool1
    assert layer_captions(at)[0].startswith("conv1 · Conv2d (convolution) · 6 maps of 26×26, values ")
    x = models.input_transform((1, 28, 28), (0.1307,), (0.3081,))(digits.prepare(samples.load("digit_7")).image)
    with torch.no_grad():
        probs = torch.softmax(net.eval()(x[None]), 1)[0]
    assert f"<b>{int(probs.argmax())}</b><br>{probs.max():.0%} sure" in text(at)
    at.session_state["view"] = "compare"
    at.run()
    no_trouble(at)


@needs_checkpoint("cifar_cnn")
def test_guess_first_hides_the_answer_until_the_student_commits() -> None:
    """Predict-then-reveal: nothing that gives the answer away is shown before the guess is locked in."""
    at = page(model="cifar_cnn", img="sample:cat", guess="1")
    no_trouble(at)
    assert "network says" not in text(at) and not bars(at) and not at.button_group
    submit = next(b for b in at.button if b.label.startswith("Lock in my guess"))
    submit.click().run()
    assert any("Pick a class first" in w.value for w in at.warning) and "network says" not in text(at)

    with torch.no_grad():
        net = models.load("cifar_cnn")
        probs = torch.softmax(net(models.transform("cifar_cnn")(samples.load("cat"))[None]), 1)[0]
    classes = models.ZOO["cifar_cnn"].classes
    wrong = int(probs.argmin())  # the least likely class: surely not the network's answer
    next(s for s in at.selectbox if s.label == "My guess").set_value(classes[wrong])
    next(b for b in at.button if b.label.startswith("Lock in my guess")).click().run()
    no_trouble(at)
    assert f"<b>{classes[int(probs.argmax())]}</b>" in text(at) and at.button_group  # revealed, views and all
    said = " ".join(i.value for i in at.info)
    assert f"You said **{classes[wrong]}**; the network gave it {probs[wrong]:.1%} (number 10 of 10)" in said
    assert "The picture is labelled **cat**" in said  # the sample photo's CIFAR-10 class
    at.session_state["view"] = "gradcam"
    at.run()
    assert "network says" in text(at) and not any(b.label.startswith("Lock in") for b in at.button)  # kept


@needs_checkpoint("cifar_cnn")
def test_a_teacher_link_locks_or_hides_the_view_switch() -> None:
    at = page(model="cifar_cnn", img="sample:cat", view="gradcam", lock="view")
    no_trouble(at)
    switch = at.button_group(key="view")
    assert switch.proto.disabled and switch.value == "gradcam" and "**Grad-CAM** asks" in text(at)
    at = page(model="cifar_cnn", img="sample:cat", view="gradcam", hide="view")
    no_trouble(at)
    assert not at.button_group and "**Grad-CAM** asks" in text(at)  # the view alone, with no way to leave it


@needs_checkpoint("cifar_cnn")
def test_downloads_of_the_maps_and_the_grad_cam_overlay() -> None:
    at = page(model="cifar_cnn", img="sample:cat", layer="conv2", view="closeup")
    no_trouble(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("⬇ All ") and "maps of conv2 (PNG)" in label for label in labels)
    at.session_state["view"] = "gradcam"
    at.run()
    assert "⬇ Grad-CAM overlay (PNG)" in [b.proto.label for b in at.get("download_button")]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def uploaded(model: str, image: Image.Image) -> AppTest:
    at = page(model=model)
    at.radio(key="img.source").set_value("upload").run()
    at.file_uploader(key="img.upload").upload("mine.png", png(image), "image/png").run()
    no_trouble(at)
    return at


@pytest.mark.parametrize("model", ["mnist_cnn", "cifar_cnn"])
def test_an_empty_picture_is_called_empty_and_a_drawn_one_is_not(model: str) -> None:
    at = uploaded(model, Image.new("RGB", (200, 200), "white"))
    (note,) = [w.value for w in at.warning if "empty" in w.value]
    assert "always picks one of its classes" in note and ("no ink" in note) == (model == "mnist_cnn")
    digit = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(digit).line([(100, 30), (100, 170)], fill=0, width=18)  # a 1
    assert not [w for w in uploaded(model, digit.convert("RGB")).warning if "empty" in w.value]


def test_a_wide_photo_shows_the_centre_cut_out_before_it_is_resized() -> None:
    at = uploaded("cifar_cnn", Image.new("RGB", (300, 100), "red"))
    captions = [c for image in at.image for c in image.captions]
    assert "Centre cut out" in captions
    notes = "\n".join(c.value for c in at.caption)
    assert "The centre 100×100 of your 300×100 picture is kept" in notes and "the centre, resized to 32×32" in notes
