"""Locust load shapes built from a scenario's closed-model stages (``LoadTestShape.tick()``)."""

from __future__ import annotations

from locust import LoadTestShape

from ragchaos.scenarios.loads import UserLoad

__all__ = ["StagesShape", "stages_shape"]


class StagesShape(LoadTestShape):
    """Users per app from the stages, times the number of apps (Locust splits them evenly)."""

    abstract = True
    load: UserLoad
    n_apps: int = 1

    def tick(self) -> tuple[int, float] | None:
        target = self.load.users_at(self.get_run_time())
        if target is None:
            return None
        users, spawn_rate = target
        return users * self.n_apps, spawn_rate * self.n_apps


def stages_shape(load: UserLoad, n_apps: int) -> type[StagesShape]:
    return type("ScenarioShape", (StagesShape,), {"load": load, "n_apps": n_apps, "abstract": False})
