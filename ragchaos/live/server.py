"""The live view's web app: the page, its assets, its state, its event stream and its controls.

``create_app(settings, session)`` returns a Flask app (Locust's process already runs Flask on
gevent, so the page lives in the process that holds the recorder, with no copy of the data);
``LiveServer`` serves it with gevent's WSGI server on 127.0.0.1.

    GET  /                  the page (static/index.html)
    GET  /static/...        its script, style and the vendored chart library (uPlot, MIT)
    GET  /api/state         everything the page draws; ?since=EPOCH_SECOND for frames after it
    GET  /api/stream        the same as server-sent events: one message per change, id = second
    GET  /api/presets       the fault buttons
    POST /api/load          {"level": 8, "mode": "rate" | "users"}     start or set the load
    POST /api/load/spike    {}                                         double it
    POST /api/load/stop     {}
    POST /api/faults        {"preset": "provider_429_storm", "target": "both" | app}
    POST /api/faults/clear  {"id": "f3"} or {} for all of them
    GET  /report/...        a finished scenario run's report (run --live)

Every request goes through ``guard.check`` first (Host, and for controls Origin, JSON and the
control header); a refused or bad request gets a 4xx with ``{"error": ...}``, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_from_directory
from gevent.pywsgi import WSGIServer
from werkzeug.exceptions import HTTPException

from ragchaos.live import guard
from ragchaos.live.errors import ControlError, FaultError, LoadError
from ragchaos.live.presets import PRESETS
from ragchaos.live.session import LiveSession
from ragchaos.live.settings import LiveSettings

__all__ = ["LiveServer", "create_app"]

STATIC = Path(str(resources.files("ragchaos.live") / "static"))
_RETRY_MS = 1000  # an EventSource that lost the server tries again this often


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.get_data():
        raise LoadError("the body is not valid JSON")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError("the body must be a JSON object")
    return data


def create_app(settings: LiveSettings, session: LiveSession) -> Flask:
    app = Flask("ragchaos.live", static_folder=None)

    @app.before_request
    def _guard() -> Any:
        refused = guard.check(request.method, dict(request.headers.items()), hosts=settings.hosts, origins=settings.origins)
        if refused is not None:
            return _error(*refused)
        return None

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(ControlError)
    def _refused(exc: Exception) -> Any:
        return _error(400, str(exc))

    @app.get("/")
    def index() -> Any:
        return send_from_directory(STATIC, "index.html", max_age=0)

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Any:
        return send_from_directory(STATIC, name, max_age=0)

    @app.get("/api/state")
    def state() -> Any:
        since = request.args.get("since")
        try:
            since_s = int(float(since)) if since else None
        except ValueError:
            return _error(400, f"since={since!r}: give an epoch second")
        return jsonify(session.snapshot(since_s))

    @app.get("/api/stream")
    def stream() -> Any:
        last = request.headers.get("Last-Event-ID") or request.args.get("since")
        try:
            since = int(float(last)) if last else None
        except ValueError:
            since = None

        def events(since: int | None) -> Iterator[str]:
            yield f"retry: {_RETRY_MS}\n\n"
            while True:
                snap = session.snapshot(since)
                if snap["frames"]:
                    since = snap["frames"][-1]["t"]
                yield f"id: {since or 0}\ndata: {json.dumps(snap, separators=(',', ':'))}\n\n"
                if not session.wait(15.0):
                    yield ": ping\n\n"

        return Response(events(since), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/presets")
    def presets() -> Any:
        return jsonify([{"name": p.name, "label": p.label, "dependency": p.dependency, "what": p.describe(),
                         "explain": p.explain} for p in PRESETS.values()])

    def _controls() -> Any:
        a = session.attached
        if not settings.controls or a is None:
            raise LoadError("controls are off: a scenario drives the load and the faults of this run")
        return a

    @app.post("/api/load")
    def load_set() -> Any:
        a = _controls()
        body = _body()
        level = body.get("level")
        if not isinstance(level, int | float) or isinstance(level, bool):
            raise LoadError('give "level": a number (requests per second, or users, per app)')
        mode = body.get("mode")
        if mode is not None and not isinstance(mode, str):
            raise LoadError('"mode" is "rate" or "users"')
        a.load.set(float(level), mode)
        session.publish()
        return jsonify(a.load.describe())

    @app.post("/api/load/spike")
    def load_spike() -> Any:
        a = _controls()
        _body()
        a.load.spike()
        session.publish()
        return jsonify(a.load.describe())

    @app.post("/api/load/stop")
    def load_stop() -> Any:
        a = _controls()
        _body()
        a.load.stop()
        session.publish()
        return jsonify(a.load.describe())

    @app.post("/api/faults")
    def fault_press() -> Any:
        a = _controls()
        body = _body()
        preset = body.get("preset")
        target = body.get("target", "both")
        if not isinstance(preset, str) or not isinstance(target, str):
            raise FaultError('give "preset" (see /api/presets) and optionally "target": "both" or an app')
        band = a.board.press(preset, target)
        session.say(f"{band.label} on {target}")
        return jsonify(band.to_json())

    @app.post("/api/faults/clear")
    def fault_clear() -> Any:
        a = _controls()
        body = _body()
        band_id = body.get("id")
        if band_id is None:
            cleared = a.board.clear_all()
            session.say("all faults cleared")
        elif isinstance(band_id, str):
            cleared = [a.board.clear(band_id)]
            session.say(f"{cleared[0].label} cleared")
        else:
            raise FaultError('"id" is a fault id such as "f3"')
        return jsonify([b.to_json() for b in cleared])

    @app.get("/report/")
    @app.get("/report/<path:name>")
    def report(name: str = "report.html") -> Any:
        if session.report_file is None:
            return _error(404, "no report yet: it is written when the scenario run ends")
        return send_from_directory(session.report_file.parent, name, max_age=0)

    return app


class LiveServer:
    """``create_app`` served on 127.0.0.1 by gevent's WSGI server, started and stopped by its owner."""

    def __init__(self, settings: LiveSettings, session: LiveSession) -> None:
        self.settings = settings
        self.app = create_app(settings, session)
        self._server = WSGIServer((settings.host, settings.port), self.app, log=None, error_log=None)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}/"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=1)
