"""Why it answers in a real browser: drop a method with a click, run the sanity check, read its correlations."""
from __future__ import annotations

import re


def test_dropping_a_method_and_running_the_sanity_check(app):
    app.open("why", model="cifar_cnn", img="sample:cat")
    maps = app.page.get_by_role("img", name=re.compile(r" map$"))
    assert maps.count() == 6
    app.page.get_by_role("button", name="Guided backprop", exact=True).click()
    app.wait()
    assert maps.count() == 5 and "guided" not in app.query().get("methods", "")
    app.page.get_by_role("button", name="Run the sanity check").click()
    app.wait()
    rho = app.page.locator("p", has_text=re.compile(r"ρ = -?\d\.\d\d$"))
    rho.first.wait_for()
    assert rho.count() == 5  # one per method still chosen
    assert app.page.get_by_role("img", name=re.compile(r"Grad-CAM, \+ conv1")).count() == 1
    app.assert_clean()
