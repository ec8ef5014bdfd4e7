"""A run names a non-default naive variant, from the app's environment or the runner's."""

from __future__ import annotations

from ragchaos.scenarios.variants import app_variants

KINDS = {"naive": "naive", "reference": "reference", "mine": None}


def test_the_default_is_not_named() -> None:
    assert app_variants(KINDS, {}, {}) == {}
    assert app_variants(KINDS, {}, {"RAGCHAOS_NAIVE_VARIANT": "sdk-defaults"}) == {}


def test_no_retries_is_named_from_the_runners_environment_or_the_apps() -> None:
    assert app_variants(KINDS, {}, {"RAGCHAOS_NAIVE_VARIANT": "no-retries"}) == {"naive": "no-retries"}
    assert app_variants(KINDS, {"naive": {"RAGCHAOS_NAIVE_VARIANT": "no-retries"}}, {}) == {"naive": "no-retries"}
    # the app's own environment wins, as in the started process
    assert app_variants(KINDS, {"naive": {"RAGCHAOS_NAIVE_VARIANT": "sdk-defaults"}},
                        {"RAGCHAOS_NAIVE_VARIANT": "no-retries"}) == {}


def test_only_the_naive_app_has_variants() -> None:
    env = {"RAGCHAOS_NAIVE_VARIANT": "no-retries"}
    assert app_variants({"reference": "reference", "mine": None}, {}, env) == {}
