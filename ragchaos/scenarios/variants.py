"""Which variant of an app a run drove, when it is not the default: named in the report's header.

The naive app is what a tutorial writes, the ``openai`` SDK's defaults included (2 retries that
honour ``Retry-After``). The original story's literal "no retries" is a documented variant,
``RAGCHAOS_NAIVE_VARIANT=no-retries`` (in the environment of ``ragchaos run`` or a scenario's
``app_env``); a run that used it says so, so nobody reads its figures as the default's.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["NAIVE_DEFAULT", "NAIVE_VARIANT_ENV", "app_variants"]

NAIVE_VARIANT_ENV = "RAGCHAOS_NAIVE_VARIANT"
NAIVE_DEFAULT = "sdk-defaults"


def app_variants(kinds: Mapping[str, str | None], app_env: Mapping[str, Mapping[str, str]],
                 environ: Mapping[str, str]) -> dict[str, str]:
    """App -> variant for each built-in naive app run as anything but its default.

    ``kinds`` maps each app to its built-in kind (None for a user's target); the app's own
    environment wins over the runner's, as it does in the started process."""
    out: dict[str, str] = {}
    for app, kind in kinds.items():
        if kind != "naive":
            continue
        variant = app_env.get(app, {}).get(NAIVE_VARIANT_ENV) or environ.get(NAIVE_VARIANT_ENV) or NAIVE_DEFAULT
        if variant != NAIVE_DEFAULT:
            out[app] = variant
    return out
