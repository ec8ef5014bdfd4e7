"""Run one scenario: the stack up, the corpus in, load and faults in step, measurements out.

    opts = RunOptions(out=Path("runs"))
    run_dir = run_scenario(load_scenario("monday-morning"), opts)

Order: start the stack (``ragchaos.stack.Stack``) and wait for health; seed the corpus through
each app's API; zero the server-side stats; then, at one start time ``t0``, start the Locust
load (``scenarios.drive``) and the fault timeline (``faults.timeline``). A watcher greenlet
labels phases (``scenarios.phases``), takes server-side snapshots at every phase boundary
(``scenarios.collect``) and prints a live line every few seconds. At the end the load drains,
every fault is reverted, ``results.json`` is written through ``reports.results`` and the
reports part renders what it can. The stack is stopped on exit, on error and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
import yaml

from ragchaos.core.heap import freeze_heap
from ragchaos.core.procs import ProcessGroup, ProcessStartError
from ragchaos.faults.appliers import NetworkApplier, ProviderApplier
from ragchaos.faults.calltiming import CallReader
from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.kinds import DownFault
from ragchaos.faults.timeline import Timeline
from ragchaos.reports.recorder import Recorder
from ragchaos.reports.results import (
    Ablation,
    AppResult,
    ClientStats,
    Correctness,
    FaultReach,
    FaultRecord,
    Phase,
    PhaseResult,
    ProviderEndpointStats,
    ProxyCallsInfo,
    RunInfo,
    RunResult,
    ScenarioInfo,
    Summary,
)
from ragchaos.scenarios.collect import PhaseAccumulator, Probe, provider_take
from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.distributed import DistributedDriver
from ragchaos.scenarios.drive import LoadDriver
from ragchaos.scenarios.options import RunOptions, prepare_scenario
from ragchaos.scenarios.phases import PhaseClock
from ragchaos.scenarios.proxycalls import ProxyCallFiler
from ragchaos.scenarios.reach import ReachInput, judge_reach, wiring_hint
from ragchaos.scenarios.requests import RequestSource, Workbench
from ragchaos.scenarios.schema import Scenario
from ragchaos.scenarios.seed import SeedError, _post, enforce_provider_limits, reset_provider_limits, seed_app
from ragchaos.scenarios.summary import summary_lines
from ragchaos.scenarios.variants import app_variants
from ragchaos.stack.docker_backend import stack_backend
from ragchaos.stack.local import Stack, StackConfig
from ragchaos.stack.otlp import OtlpReceiver
from ragchaos.stack.targets import TargetError, check_reachable

__all__ = ["RunFailed", "RunOptions", "prepare_scenario", "run_dir_for", "run_scenario"]


# apps seeded at once (seeding is setup, not the test)
SEED_CONCURRENCY = 2


class RunFailed(RuntimeError):
    """The run could not go on; the message says why and where the logs are."""


def run_dir_for(scenario: Scenario, out: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"{scenario.name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = out / f"{scenario.name}-{stamp}-{n}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise RunFailed(f"--out {out}: cannot create the run folder {path}: {exc.strerror or exc}") from None
    return path


class _Notifying:
    """An applier that tells the phase clock when a fault is really in place and gone."""

    def __init__(self, inner: Any, phases: PhaseClock, t0: Callable[[], float],
                 forward: Callable[[str, str, float], None]) -> None:
        self.inner = inner
        self.phases = phases
        self.t0 = t0
        self.forward = forward  # to Locust workers, which label their own requests

    def apply(self, step: Any, target: str, duration_s: float | None) -> Any:
        handle = self.inner.apply(step, target, duration_s)
        name, t = f"{step.step_name}@{target}", time.time() - self.t0()
        self.phases.applied(name, t)
        self.forward(name, "applied", t)
        return handle

    def revert(self, step: Any, target: str, handle: Any) -> None:
        try:
            self.inner.revert(step, target, handle)
        finally:
            name, t = f"{step.step_name}@{target}", time.time() - self.t0()
            self.phases.reverted(name, t)
            self.forward(name, "reverted", t)


@dataclass
class _Leg:
    """One pass of load + faults over some apps (all at once, or one app with --sequential)."""

    apps: list[str]
    ctx: RunContext
    t0: float = 0.0
    end: float = 0.0
    timeline: Timeline | None = None
    fault_records: list[Any] = field(default_factory=list)
    dispatch: dict[str, Any] = field(default_factory=dict)
    phases: list[Any] = field(default_factory=list)
    calls: ProxyCallFiler | None = None  # the dependencies' calls, timed at the fault proxy
    mechanisms_off: dict[str, list[str] | None] = field(default_factory=dict)


def run_scenario(scenario: Scenario, opts: RunOptions) -> Path:
    """Run and write the run folder; returns its path. Everything started is stopped."""
    run_dir = run_dir_for(scenario, opts.out)
    out = opts.print
    started_at = time.time()
    provider_config = None
    if scenario.provider:
        provider_config = run_dir / "provider.yaml"
        provider_config.write_text(yaml.safe_dump(scenario.provider, sort_keys=False))
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    for app in scenario.apps:  # a target we do not start must be up before anything else starts
        target = scenario.target(app)
        if target.url is not None:
            try:
                check_reachable(app, target.url, target.health)
            except TargetError as exc:
                raise RunFailed(str(exc)) from None
    receiver = _receiver(scenario)
    stack = Stack(StackConfig(run_dir=run_dir, apps=scenario.apps, provider_config=provider_config,
                              app_env=scenario.app_env, targets=scenario.targets,
                              otlp_endpoints={a: receiver.endpoint(a) for a in receiver.rules} if receiver else {},
                              base_dir=Path(opts.file).parent if opts.file else None))
    bench = Workbench(scenario)
    legs: list[_Leg] = []
    accumulator = PhaseAccumulator()
    probe_errors: list[str] = []
    group = ProcessGroup()  # only for its SIGTERM -> KeyboardInterrupt switch
    interrupted_at: float | None = None
    backend = contextlib.ExitStack()
    with group.signals_stop():
        try:
            out(f"ragchaos: starting the stack for {scenario.name} (logs in {run_dir / 'logs'})")
            if receiver is not None:
                receiver.start()
            # --backend docker: the real Toxiproxy, Chroma and Redis as containers, removed by
            # backend.close() below whatever happens; local: the config unchanged
            stack.config = backend.enter_context(stack_backend(opts.backend, stack.config))
            stack.start()
            out(f"ragchaos: stack up: {', '.join(f'{a}={u.url}' for a, u in stack.apps.items())}")
            _print_instructions(stack, out)
            _seed(stack, bench, scenario, out)
            _check_ready(stack, scenario, out)
            if receiver is not None:
                _check_span_rules(stack, scenario, receiver, out)
            batches = [[a] for a in scenario.apps] if opts.sequential else [list(scenario.apps)]
            for apps in batches:
                _run_leg(stack, bench, scenario, apps, accumulator, probe_errors, opts, run_dir, receiver, legs)
        except (ProcessStartError, SeedError, TargetError) as exc:
            raise RunFailed(f"{exc}\n(process logs: {run_dir / 'logs'})") from exc
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: the part already measured is kept, marked interrupted, and
            # reported; only a run interrupted before its load began has nothing to keep
            interrupted_at = time.time()
            out("ragchaos: interrupted: stopping the stack; keeping what was measured")
            if not any(leg.t0 for leg in legs):
                raise
        finally:
            ended_at = time.time()
            stack.stop()
            backend.close()
            if receiver is not None:
                receiver.stop()
    legs = [leg for leg in legs if leg.t0]  # a leg interrupted before its load began measured nothing
    result = _assemble(scenario, opts, legs, accumulator, stack, started_at, ended_at, run_dir)
    if interrupted_at is not None:
        result.run.interrupted = True
        result.run.interrupted_at_s = round(min(scenario.total_s, (legs[-1].end or interrupted_at) - legs[-1].t0), 3)
    result.save(run_dir / "results.json")  # the measurements first: judging must not lose them
    _judge(result, scenario, out)
    result.save(run_dir / "results.json")
    for line in summary_lines(result):
        out(line)
    if probe_errors:
        (run_dir / "logs").mkdir(exist_ok=True)
        (run_dir / "logs" / "runner.log").write_text("\n".join(probe_errors) + "\n")
    if opts.render:
        _render(run_dir, result, out)
    if opts.observer is not None:
        opts.observer.run_finished(run_dir)
    return run_dir


def _receiver(scenario: Scenario) -> OtlpReceiver | None:
    """An OTLP receiver when some target of the run maps its spans to stages."""
    rules = {a: scenario.target(a).spans for a in scenario.apps if scenario.target(a).spans}
    return OtlpReceiver(rules) if rules else None


def _print_instructions(stack: Stack, out: Callable[[str], None]) -> None:
    """A target we did not start must be told where its dependencies are: printed."""
    for app, env in stack.instructions.items():
        out(f"ragchaos: {app} was not started by ragchaos; for faults to reach it, point it at:")
        for k, v in env.items():
            out(f"ragchaos:   {k}={v}")


def _check_span_rules(stack: Stack, scenario: Scenario, receiver: OtlpReceiver, out: Callable[[str], None],
                      wait_s: float = 10.0) -> None:
    """After seeding, one probe query per target; every span rule must have matched a span name by
    then (ingest spans came with seeding), or the run stops before the load with the names seen."""
    probe = RequestSource(Workbench(scenario), "span-probe")
    for app in receiver.rules:
        spec = probe.next()
        while spec.kind != "query":
            spec = probe.next()
        method, path, body, headers = spec.render(app, scenario.target(app).query, scenario.workload.top_k, False)
        status, answer = _post(f"{stack.apps[app].url}{path}", body, scenario.request_timeout, method, headers)
        if status >= 400:
            out(f"ragchaos: {app}: the span probe query answered {status}: {str(answer)[:200]}")
    deadline = time.monotonic() + wait_s
    missing = {app: receiver.unmatched(app) for app in receiver.rules}
    while any(missing.values()) and time.monotonic() < deadline:
        gevent.sleep(0.2)
        missing = {app: receiver.unmatched(app) for app in receiver.rules}
    problems = [f"target {app}: span rule {rule} matches no span (spans seen: "
                f"{', '.join(receiver.seen_names(app)) or 'none; is OTEL_EXPORTER_OTLP_ENDPOINT used?'}"
                + "".join(f"; {key} seen: {', '.join(values)}" for key, values in receiver.seen_values(app).items())
                + ")"
                for app, rules in missing.items() for rule in rules]
    if problems:
        raise RunFailed("\n".join(problems))
    out(f"ragchaos: spans of {', '.join(receiver.rules)} arrive and every span rule matches")


def _check_ready(stack: Stack, scenario: Scenario, out: Callable[[str], None]) -> None:
    """Each target's readiness probe, after seeding and before the load: polled until it answers as
    expected, or the run stops with what it answered instead."""
    for app in scenario.apps:
        probe = scenario.target(app).ready
        if probe is None:
            continue
        deadline = time.monotonic() + probe.timeout_s
        while (problem := probe.check(stack.apps[app].url)) is not None:
            if time.monotonic() > deadline:
                raise TargetError(f"target {app} is not ready after {probe.timeout_s:g}s: {probe.method} "
                                  f"{probe.path} {problem}")
            gevent.sleep(0.5)
        out(f"ragchaos: {app} is ready ({probe.method} {probe.path} answered as expected)")


def _seed(stack: Stack, bench: Workbench, scenario: Scenario, out: Callable[[str], None]) -> None:
    docs = bench.corpus.documents
    t = time.monotonic()
    provider = stack.provider.url if stack.provider is not None else None
    if provider:
        # loading the corpus is setup, not the test: no rate limit for any app while it runs
        enforce_provider_limits(provider, False)
    try:
        def one(app: str) -> BaseException | None:
            # the error is returned, not raised in the greenlet: gevent would print its traceback,
            # and a user's service refusing its documents deserves one clear line
            try:
                seed_app(stack.apps[app].url, docs, template=scenario.target(app).ingest, target=app)
            except Exception as exc:
                return exc
            return None

        # a few apps at a time: one Chroma server takes every app's corpus, and eight apps' bulk
        # upserts at once (run --ablate) overran the reference app's own vector-store deadline
        pool = gevent.pool.Pool(SEED_CONCURRENCY)
        greenlets = [pool.spawn(one, app) for app in scenario.apps]
        gevent.joinall(greenlets)
        failed = [g.value for g in greenlets if g.value is not None]
        if failed:
            raise failed[0]
    finally:
        if provider:
            enforce_provider_limits(provider, True)
    out(f"ragchaos: seeded {len(docs)} documents into {', '.join(scenario.apps)} in {time.monotonic() - t:.1f}s")
    if provider:
        # and the load starts on full buckets for every app key alike
        for app in scenario.apps:
            if "provider" in scenario.target(app).dependencies.values():
                reset_provider_limits(provider, app)


def _timeline(stack: Stack, scenario: Scenario, apps: list[str], phases: PhaseClock,
              t0: Callable[[], float], forward: Callable[[str, str, float], None]) -> Timeline:
    appliers: dict[str, Any] = {}
    if stack.toxiproxy is not None:
        client = ToxiproxyClient(stack.toxiproxy.url)
        appliers["network"] = _Notifying(NetworkApplier(client), phases, t0, forward)
    if stack.provider is not None:
        appliers["provider"] = _Notifying(ProviderApplier(stack.provider.url), phases, t0, forward)
    return Timeline(scenario.faults, apps=apps, clock=time.time, sleep=gevent.sleep, appliers=appliers,
                    resolve=scenario.dependency_for)


def _run_leg(stack: Stack, bench: Workbench, scenario: Scenario, apps: list[str], acc: PhaseAccumulator,
             probe_errors: list[str], opts: RunOptions, run_dir: Path, receiver: OtlpReceiver | None = None,
             legs: list[_Leg] | None = None) -> _Leg:
    """One leg; it is appended to ``legs`` as soon as it exists, so an interrupted leg's measured
    part is still there to report."""
    out = opts.print
    phases = PhaseClock(scenario.load.stage_bounds(), scenario.warmup)
    ctx = RunContext(bench, {a: stack.apps[a].url for a in apps}, recorder=Recorder(), phases=phases)
    leg = _Leg(apps, ctx)
    if legs is not None:
        legs.append(leg)
    leg.calls = _call_filer(stack, apps)
    probes = [Probe(a, stack.apps[a].url, stats=stack.target(a).stats, metrics=stack.target(a).metrics)
              for a in apps]
    provider_url = stack.provider.url if stack.provider else None
    driver: Any
    if opts.workers > 0:
        driver = DistributedDriver(ctx, opts.workers, run_dir / "scenario.yaml", run_dir / "logs")
    else:
        driver = LoadDriver(ctx)
    observer = opts.observer

    def forward(name: str, event: str, t: float) -> None:
        driver.phase_event(name, event, t)
        if observer is not None:  # the live view draws the fault as a band
            observer.fault_event(name, event, leg.t0 + t)

    timeline = _timeline(stack, scenario, apps, phases, lambda: leg.t0, forward)
    problems = timeline.validate(scenario.total_s)
    if problems:
        raise RunFailed("fault timeline: " + "; ".join(problems))
    leg.timeline = timeline
    try:
        driver.prepare()
    except ValueError as exc:
        driver.stop()
        raise RunFailed(str(exc)) from None
    for p in probes:
        p.baseline()
        leg.mechanisms_off[p.app] = p.mechanisms_off()
    if provider_url:
        provider_take(provider_url, probe_errors)
    # the harness's own heap (Locust, gevent, the stack's clients, ~260,000 objects) out of the
    # collector's full passes before the clock starts: a full pass stops this process, and every
    # in-flight request of every app would be measured through the stall (the reference app
    # freezes its heap too, reference_app/gc_freeze.py)
    freeze_heap()
    duration = scenario.total_s
    leg.t0 = ctx.t0 = time.time()
    if receiver is not None:
        receiver.take()  # spans before the load (seeding, the probe) are not a phase's
        # a span counts in the phase its start falls in (as requests and proxy calls do), however
        # late it is exported; one that started before the load is not the load's
        receiver.phase_of = lambda t: ctx.phases.at(min(t - leg.t0, duration - 1e-6)) if leg.t0 <= t else None
    if observer is not None:
        observer.leg_started(ctx, stack)
    # a call belongs to the phase it started in, like a request (by its intended send time)
    # (a call made while the load drains belongs to the last phase, as its request does)
    leg.calls.start(leg.t0, lambda t: ctx.phases.at(min(t, duration - 1e-6)) if t >= 0 else None)
    timeline.start(leg.t0)
    out(f"ragchaos: load on {', '.join(apps)} for {duration:g}s ({scenario.load.describe()})")
    tl_greenlet = gevent.spawn(timeline.run, duration)
    driver.start(leg.t0)
    try:
        _watch(ctx, probes, provider_url, acc, probe_errors, duration, opts, leg.calls)
        driver.drain(scenario.request_timeout)
    except KeyboardInterrupt:
        # interrupted: no new sends, and what was sent is answered (or times out) and recorded,
        # so the measured part is whole; a second Ctrl-C cuts this wait short
        driver.drain(scenario.request_timeout)
        raise
    finally:
        gc.unfreeze()
        driver.stop()
        timeline.stop()
        tl_greenlet.join(timeout=10)
        timeline.revert_all()
        leg.end = time.time()
        # the phases as far as the load got (all of them, unless the run was interrupted)
        measured = min(duration, leg.end - leg.t0)
        leg.phases = phases.phases(measured)
        leg.dispatch = driver.dispatch_stats()
        _snapshot(probes, provider_url, acc, ctx.phases.at(measured - 1e-6), probe_errors)
        if receiver is not None:
            gevent.sleep(1.0)  # the exporters' last batches (OTEL_BSP_SCHEDULE_DELAY is 200 ms)
            receiver.phase_of = lambda t: None
            for (app, phase), hists in receiver.take().items():
                if app in apps:
                    acc.add(app, phase, {"stages": hists}, {})
            for (app, phase), errors in receiver.take_errors().items():
                if app in apps:
                    acc.add(app, phase, {"stage_errors": errors}, {})
        for p in probes:
            probe_errors.extend(p.errors)
        _collect_calls(leg.calls, probe_errors, final=True)
        leg.fault_records = timeline.records
    return leg


def _call_filer(stack: Stack, apps: list[str]) -> ProxyCallFiler:
    """The fault proxy's call records of these apps' dependencies (none from a real Toxiproxy)."""
    owners = {name: owner for name, owner in stack.proxy_owners.items() if owner[0] in apps}
    reader = CallReader(stack.toxiproxy.url) if stack.toxiproxy is not None else None
    try:
        return ProxyCallFiler(reader, owners)
    except OSError:  # the proxy did not answer: measured as absent, not as zero
        return ProxyCallFiler(None, owners)


def _collect_calls(calls: ProxyCallFiler | None, errors: list[str], final: bool = False) -> None:
    if calls is None:
        return
    try:
        if final:
            gevent.sleep(0.5)  # connections closed by the drain report their last calls
            calls.finish()
        else:
            calls.collect()
    except OSError as exc:
        errors.append(f"fault proxy calls: {exc}")


def _snapshot(probes: list[Probe], provider_url: str | None, acc: PhaseAccumulator, phase: str,
              errors: list[str]) -> None:
    snaps = {p.app: p.take() for p in probes}
    keys = provider_take(provider_url, errors) if provider_url else {}
    for app, snap in snaps.items():
        acc.add(app, phase, snap, keys)


def _watch(ctx: RunContext, probes: list[Probe], provider_url: str | None, acc: PhaseAccumulator,
           errors: list[str], duration: float, opts: RunOptions, calls: ProxyCallFiler | None = None) -> None:
    """Until the end of the load: snapshot at phase changes, print the live line."""
    phase = ctx.phases.at(0.0)
    last_live = time.time()
    last_counts: dict[str, tuple[int, int]] = {app: (0, 0) for app in ctx.apps}
    snapshotting: gevent.Greenlet | None = None
    while True:
        elapsed = ctx.elapsed()
        if elapsed >= duration:
            if snapshotting is not None:
                snapshotting.join()
            break
        now_phase = ctx.phases.at(elapsed)
        if now_phase != phase:
            # in a greenlet of its own: an overloaded app's slow /metrics must not stall the
            # live view; one at a time, so the phases' snapshots stay in order
            if snapshotting is not None:
                snapshotting.join()
            snapshotting = gevent.spawn(_snapshot, probes, provider_url, acc, phase, errors)
            # the proxy keeps 200,000 records; reading at each boundary keeps a long run inside that
            gevent.spawn(_collect_calls, calls, errors)
            phase = now_phase
        if time.time() - last_live >= opts.live_every_s:
            span = time.time() - last_live
            last_live = time.time()
            opts.print(_live_line(ctx, phase, elapsed, duration, span, last_counts))
        gevent.sleep(0.1)


def _live_line(ctx: RunContext, phase: str, elapsed: float, duration: float, span: float,
               last_counts: dict[str, tuple[int, int]]) -> str:
    """One line: per app, the last interval's req/s, error rate and p99, and the run's p99 so far."""
    parts = [f"[{elapsed:5.0f}s/{duration:.0f}s {phase:>10}]"]
    for app, s in ctx.live_snapshot().items():
        done, failed = s["requests"] - last_counts[app][0], s["errors"] - last_counts[app][1]
        last_counts[app] = (s["requests"], s["errors"])
        rps = done / span if span > 0 else 0.0
        err = failed / done if done else 0.0
        drop = f" dropped {s['dropped']}" if s["dropped"] else ""
        parts.append(f"{app}: {rps:5.1f} req/s, errors {err:6.1%}, p99 {s['p99_recent_ms']:7.0f} ms "
                     f"(run {s['p99_ms']:.0f} ms){drop}")
    return "  ".join(parts)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("ragchaos", "locust", "chromadb", "openai", "hdrh", "fastapi"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            out[name] = version({"hdrh": "hdrhistogram"}.get(name, name))
    return out


def _builtin_kinds(stack: Stack, apps: list[str]) -> dict[str, str | None]:
    """App -> which of our apps it is (None: a user's target)."""
    out: dict[str, str | None] = {}
    for app in apps:
        try:
            out[app] = stack.target(app).builtin
        except KeyError:
            out[app] = None
    return out


def _assemble(scenario: Scenario, opts: RunOptions, legs: list[_Leg], acc: PhaseAccumulator, stack: Stack,
              started_at: float, ended_at: float, run_dir: Path) -> RunResult:
    info = ScenarioInfo(
        name=scenario.name, description=scenario.description.strip(), seed=scenario.seed,
        file=opts.file, duration_s=scenario.total_s, load_model=scenario.load_model,
        slo_ms={k: v * 1000.0 for k, v in scenario.slo.items()},
        checks=list(scenario.checks),
    )
    info_extra = {
        "corpus": scenario.corpus.model_dump(),
        "workload": scenario.workload.model_dump(),
        "load": scenario.load.model_dump(),
    }
    run = RunInfo(started_at=started_at, ended_at=ended_at, versions=_versions(),
                  toxiproxy=(stack.toxiproxy.kind if stack.toxiproxy else None),
                  workers=max(1, opts.workers), quick=opts.quick, proxy_calls=_calls_info(legs),
                  provider_overrides=dict(scenario.provider), app_env={a: dict(e) for a, e in scenario.app_env.items()},
                  variants=app_variants(_builtin_kinds(stack, scenario.apps), scenario.app_env, os.environ))
    first = legs[0] if legs else None
    phases = [Phase(name=p.name, kind=p.kind, start_s=round(p.start_s, 3), end_s=round(p.end_s, 3))
              for p in (first.phases if first else [])]
    faults: list[FaultRecord] = []
    apps: dict[str, AppResult] = {}
    for leg in legs:
        for r in leg.fault_records:
            entry = r.results_entry()
            faults.append(FaultRecord(**entry, reach=_reach(r, leg, scenario, stack, acc)))
        for app in leg.apps:
            apps[app] = _app_result(app, leg, acc)
    result = RunResult(scenario=info, run=run, phases=phases, faults=faults, apps=apps)
    if opts.ablate:  # which copy lacks which mechanism; reports.ablation compares them
        from ragchaos.scenarios.ablation import FULL_APP, ablated_app

        result.ablation = Ablation(full=FULL_APP, apps={m: ablated_app(m) for m in opts.ablate},
                                   wall_time_s=round(ended_at - started_at, 1))
    # extras the schema keeps (extra="allow"): the scenario as run, dispatcher counts
    result.scenario.__pydantic_extra__.update(info_extra)  # type: ignore[union-attr]  # a dict: the model has extra="allow"
    result.run.__pydantic_extra__.update({  # type: ignore[union-attr]  # a dict: the model has extra="allow"
        "run_dir": str(run_dir),
        "sequential": opts.sequential,
        "legs": [{"apps": leg.apps, "t0": leg.t0, "end": leg.end, "dispatch": leg.dispatch} for leg in legs],
        "stack": stack.describe(),
    })
    return result


def _reach(record: Any, leg: _Leg, scenario: Scenario, stack: Stack, acc: PhaseAccumulator) -> FaultReach | None:
    """Whether this fault reached its target (``scenarios.reach``)."""
    step = next((s for s in scenario.faults if s.step_name == record.name), None)
    calls = leg.calls
    if step is None or calls is None or record.target not in leg.apps:
        return None
    app, dep = record.target, record.dependency
    proxy = f"{app}_{dep}"
    endpoint = stack.proxies.get(proxy)
    provider = step.fault.channel == "provider"
    intervals = leg.ctx.recorder.intervals(app, t0=leg.t0)

    def served(a: float, b: float) -> int:  # 1 s buckets by completion time
        return sum(i.requests for i in intervals if a - 1.0 < i.t_s <= b)

    provider_requests = 0
    if provider and record.applied_at_s is not None:
        b = record.reverted_at_s if record.reverted_at_s is not None else scenario.total_s
        for span in leg.phases:
            if span.start_s < b and span.end_s > record.applied_at_s:
                provider_requests += sum(int(v.get("requests", 0)) for v in acc.provider.get((app, span.name), {}).values())
    info = calls.info()
    target = stack.target(app)
    return judge_reach(
        ReachInput(record.name, app, dep, proxy, endpoint.addr if endpoint else None, record.applied_at_s,
                   record.reverted_at_s, scenario.total_s, isinstance(step.fault, DownFault), provider,
                   info.measured, info.note),
        lambda a, b: calls.activity(app, dep, a, b), served, provider_requests,
        wiring_hint(app, dep, target.started, provider, endpoint.addr if endpoint else None),
    )


def _calls_info(legs: list[_Leg]) -> ProxyCallsInfo | None:
    infos = [leg.calls.info() for leg in legs if leg.calls is not None]
    if not infos:
        return None
    return ProxyCallsInfo(measured=all(i.measured for i in infos), note=next((i.note for i in infos if i.note), ""),
                          lost=sum(i.lost for i in infos), unfinished=sum(i.unfinished for i in infos))


def _app_result(app: str, leg: _Leg, acc: PhaseAccumulator) -> AppResult:
    rec = leg.ctx.recorder
    names = [p.name for p in leg.phases]
    calls = leg.calls
    for extra in rec.phases(app) + (calls.phases(app) if calls else []):
        if extra not in names:
            names.append(extra)
    phases: dict[str, PhaseResult] = {}
    for name in names:
        client = rec.client_stats(app, name) if name in rec.phases(app) else ClientStats()
        stages = {s: Summary.of(h) for s, h in acc.stages.get((app, name), {}).items()}
        if calls is not None:  # beside the app's own stages: its dependencies' calls at the proxy
            stages.update({s: Summary.of(h) for s, h in calls.stages(app, name).items()})
        provider = {ep: ProviderEndpointStats(**v) for ep, v in acc.provider.get((app, name), {}).items()}
        phases[name] = PhaseResult(client=client, stages=stages, counters=acc.counters.get((app, name), {}),
                                   provider=provider, stage_errors=acc.stage_errors.get((app, name), {}),
                                   dependencies=calls.dependencies(app, name) if calls is not None else {})
    tally = leg.ctx.tally[app]
    return AppResult(
        phases=phases,
        intervals=rec.intervals(app, t0=leg.t0),
        correctness=Correctness(scored=tally.scored, hit_at_k=tally.hits, k=leg.ctx.top_k),
        mechanisms_off=leg.mechanisms_off.get(app),
    )


def _judge(result: RunResult, scenario: Scenario, out: Callable[[str], None]) -> None:
    """The scenario's checks and the mechanism verdicts, by the reports part's one evaluator."""
    from ragchaos.reports.build import finalize

    try:
        finalize(result)
        for c in result.gate.checks if result.gate else []:
            if c.metric == "fault_reach" and c.status == "fail":
                out(f"ragchaos: {c.reason}")  # the run fails on it: say why, and how to wire the target
    except Exception as exc:  # judging is the reports part's; a bug there must not lose the run
        out(f"ragchaos: judging the run failed: {exc}")


def _render(run_dir: Path, result: RunResult, out: Callable[[str], None]) -> None:
    """report.html, summary.md, junit.xml, plots/ and hdr/ by the reports part."""
    try:
        from ragchaos.reports.build import write_reports

        write_reports(run_dir, result)
    except Exception as exc:  # a report failure must not lose the run's data
        print(f"ragchaos: rendering the report failed: {exc} (results.json is complete)", file=sys.stderr)
