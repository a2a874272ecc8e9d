"""Fool the network in a real browser: move the ε slider with the keyboard and watch the answer flip."""
from __future__ import annotations

import re


def test_moving_eps_up_flips_the_answer_of_cifar_cnn_on_the_cat(app):
    app.open("fool", model="cifar_cnn", img="sample:cat", method="pgd", eps="0")
    assert app.page.get_by_text(re.compile(r"^cat, \d+% sure$")).count() == 2  # before and after: no push yet
    slider = app.page.get_by_role("slider").first  # ε, in 255ths
    slider.focus()
    for _ in range(8):
        slider.press("ArrowRight")
    app.wait()
    for _ in range(4):  # a press while the page reruns can be lost: go on to 8
        if int(app.query().get("eps", "0")) >= 8:
            break
        slider.press("ArrowRight")
        app.wait()
    app.page.get_by_text("Fooled:", exact=False).wait_for()
    app.wait()
    assert app.query().get("eps") == "8"
    assert app.page.get_by_text(re.compile(r"^cat, \d+% sure$")).count() == 1  # after: something else
    app.assert_clean()
