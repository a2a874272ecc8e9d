"""The Train page's recipe table: its URL keys and defaults stay what shared links hold, the widgets and the link
accept the same values, and the widgets' values make the TrainConfig the engine's defaults describe."""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import replace

import pytest

from app import recipe
from cnnviz.nets import netspec
from cnnviz.training import train
from cnnviz.training.job import Hosting

FREE, CAPPED = Hosting(), Hosting(max_epochs=3, max_train=1000, max_test=500)
# the link's keys, in the address's order: links that teachers already shared hold these
KEYS = ["opt", "lr", "wd", "batch", "epochs", "sched", "patience", "aug", "norm", "valfrac", "smooth", "init", "seed",
        "limit"]


def values(ds: str, net: str, host: Hosting = FREE, **changed) -> dict:
    return {"data": ds, "net": net, "pretrained": False, **recipe.defaults(ds, net, host), **changed}


def test_the_table_keeps_the_links_keys_and_names_real_config_fields() -> None:
    table = recipe.fields(FREE)
    assert list(table) == KEYS
    config_fields = {f.name for f in dataclass_fields(train.TrainConfig)}
    assert all(f.attr in config_fields for f in table.values())


def test_defaults_are_the_engines_recipe_as_widget_values() -> None:
    assert recipe.defaults("mnist", "mnist_cnn", FREE) == {
        "opt": "adam", "lr": 0.003, "wd": 0.0, "batch": 128, "epochs": 10, "sched": "onecycle", "patience": 0,
        "aug": [], "norm": "dataset", "valfrac": 0.1, "smooth": 0.0, "init": "default", "seed": 0, "limit": 0}
    cifar = recipe.defaults("cifar10", "cifar_cnn", FREE)
    assert (cifar["opt"], cifar["lr"], cifar["aug"], cifar["epochs"], cifar["smooth"]) == (
        "sgd", 0.05, ["flip", "crop"], 15, 0.1)


@pytest.mark.parametrize("ds, net", [("mnist", "mnist_cnn"), ("cifar10", "cifar_cnn"), ("cifar10", "resnet18")])
def test_the_default_widgets_make_the_engines_default_config(ds: str, net: str) -> None:
    assert recipe.config(values(ds, net), FREE) == train.defaults(ds, net)


def test_a_capped_copy_caps_the_defaults_the_ranges_and_the_config() -> None:
    table = recipe.fields(CAPPED)
    assert recipe.defaults("mnist", "mnist_cnn", CAPPED)["epochs"] == 3
    assert recipe.defaults("mnist", "mnist_cnn", CAPPED)["limit"] == 1000
    assert (table["epochs"].kwargs()["max_value"], table["limit"].kwargs()["max_value"]) == (3, 1000)
    assert table["limit"].label == "Use only this many training images" and "at most 3" in table["epochs"].help
    config = recipe.config(values("mnist", "mnist_cnn", CAPPED, epochs=50, limit=5000), CAPPED)
    assert (config.epochs, config.train_limit, config.test_limit) == (3, 1000, 500)
    assert recipe.config(values("mnist", "mnist_cnn", CAPPED, limit=0), CAPPED).train_limit == 1000
    assert recipe.fields(FREE)["limit"].label.endswith("(0 = all)")


def test_widget_values_become_config_values() -> None:
    config = recipe.config(values("cifar10", "cifar_cnn", aug=["rotate", "flip"], batch=32, lr=0.1, opt="adamw",
                                  valfrac=0.25, pretrained=1), FREE)
    assert config.augment == ("flip", "rotate")  # in the table's order, as a tuple
    assert (config.batch_size, config.lr, config.optimizer, config.val_fraction, config.pretrained) == (
        32, 0.1, "adamw", 0.25, True)
    assert replace(config, augment=("flip", "crop"), batch_size=128, lr=0.05, optimizer="sgd", val_fraction=0.1,
                   pretrained=False) == train.defaults("cifar10", "cifar_cnn")


@pytest.mark.parametrize("key, good, bad", [
    ("lr", 0.003, 7.0), ("wd", 5e-4, 0.2), ("batch", 32, 33), ("smooth", 0.1, 0.5), ("opt", "adam", "rmsprop"),
    ("sched", "step", "cosine"), ("norm", "half", "none"), ("aug", "jitter", "blur"), ("epochs", 200, 201),
    ("patience", 50, 51), ("valfrac", 0.5, 0.55), ("seed", 0, -1), ("limit", 0, -1),
])
def test_the_link_accepts_what_the_widget_can_show_and_nothing_else(key: str, good, bad) -> None:
    f = recipe.fields(FREE)[key]
    ok = f.rule if callable(f.rule) else f.rule.__contains__
    assert ok(good) and not ok(bad)
    kwargs = f.kwargs()
    if "options" in kwargs:
        assert good in kwargs["options"] and bad not in kwargs["options"]
    else:
        low, high = kwargs["min_value"], kwargs["max_value"]
        assert low <= good <= high and not low <= bad <= high


def test_a_widget_gets_its_range_its_help_and_its_own_arguments() -> None:
    table = recipe.fields(FREE)
    assert table["limit"].kwargs() == {"min_value": 0, "max_value": 10**7, "step": 1000,
                                       "help": "a smaller set trains faster (the validation share is taken from it)"}
    assert table["opt"].kwargs()["format_func"]("adamw") == "AdamW"
    assert table["aug"].kwargs()["selection_mode"] == "multi"
    assert table["sched"].kwargs()["help"] == table["sched"].help


@pytest.mark.parametrize("key, means", [
    ("smooth", "spread over all the classes"), ("sched", "One-cycle warms up"), ("norm", "mean subtracted"),
    ("wd", "towards zero"), ("batch", "before each update"), ("epochs", "one pass"), ("patience", "stop when"),
    ("opt", "gradient"), ("valfrac", "never trained on"), ("seed", "random"), ("aug", "random changes"),
])
def test_each_setting_says_what_it_means_and_why_it_matters(key: str, means: str) -> None:
    """A first-year student meets these words here first: each help says what the setting does, then why."""
    help_text = recipe.fields(FREE)[key].help
    assert means in help_text and len(help_text) > 80


def test_every_setting_has_help() -> None:
    assert all(f.help for f in recipe.fields(CAPPED).values())


def test_a_custom_networks_training_batch_is_checked_against_the_memory_limit(monkeypatch) -> None:
    monkeypatch.setenv("CNNVIZ_MAX_BATCH_MB", "1")
    layers = netspec.parse(netspec.PRESETS["mnist_cnn"].text)
    with pytest.raises(ValueError, match="A training batch of 128 images needs"):
        recipe.config(values("mnist", "custom"), FREE, layers)
    assert recipe.config(values("mnist", "custom", batch=16), FREE, layers).layers == layers


def test_networks_are_the_zoo_of_the_data_set_then_your_own() -> None:
    assert recipe.networks("mnist") == ["mnist_cnn", "mnist_fast", "custom"]
    assert recipe.networks("cifar10")[-1] == "custom" and "mnist_cnn" not in recipe.networks("cifar10")
    assert recipe.network_title("custom") == "Your own network (layer description)"
    assert recipe.preset("mnist") == netspec.PRESETS["mnist_cnn"].text
