"""What the live view is told at start: where it listens, the SLO it draws, how much it keeps.

One frozen dataclass, built by ``ragchaos up`` / ``ragchaos run --live`` from the scenario and the
command line, and passed to everything else (``create_app(settings, session)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LiveSettings"]


@dataclass(frozen=True)
class LiveSettings:
    port: int = 8089
    host: str = "127.0.0.1"  # loopback only: the page can inject faults
    apps: tuple[str, ...] = ("naive", "reference")
    # an ok answer within this counts as goodput, per request kind (the scenario's ``slo``)
    slo_ms: dict[str, float] = field(default_factory=lambda: {"query": 2000.0})
    history_s: int = 600  # seconds of frames kept for a page that (re)connects
    # a window of fewer requests than this is "insufficient data" in the notes, not a verdict
    min_requests: int = 20
    note_window_s: int = 10
    # control bounds: every load and every fault the page starts is bounded in size and time
    max_rate: float = 200.0  # arrivals per second per app
    max_users: int = 400  # closed-model users per app
    max_load_s: float = 1800.0  # a load stops by itself after this long
    max_fault_s: float = 600.0  # a fault is cleared by itself after this long
    controls: bool = True  # False while a scenario drives load and faults (run --live)

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins the page is served from; control requests from any other are refused."""
        return (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")

    @property
    def hosts(self) -> tuple[str, ...]:
        """Accepted ``Host`` headers (a DNS-rebinding request carries the attacker's name)."""
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")
