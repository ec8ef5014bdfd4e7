"""Read a scenario file and explain every mistake with the line it is on.

The YAML is composed to nodes first (``yaml.compose``), which keep their line marks; a pydantic
error location (``load.stages.1.rate``) or a cross-field problem path is walked down that node
tree to the deepest node that exists, and its line is reported. A missing field points at the
mapping that lacks it; a discriminator tag in the location (``load.arrivals.stages``) is skipped.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ragchaos.scenarios.schema import Scenario

__all__ = ["BUILTIN_DIR", "ScenarioError", "builtin_names", "field_names_at", "find_scenario", "load_scenario",
           "parse_scenario"]

BUILTIN_DIR = Path(__file__).parent / "builtin"


class ScenarioError(ValueError):
    """A scenario that cannot run; ``problems`` are ``file:line: where: what`` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def find_scenario(name_or_path: str | Path) -> Path:
    """A path as given, or a built-in scenario by name (``monday-morning``)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ScenarioError([f"{path}: no such file"])
        return path
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return builtin
    raise ScenarioError([f"{name_or_path}: no such file or built-in scenario; built in: {', '.join(builtin_names())}"])


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = find_scenario(name_or_path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, filename: str = "<scenario>") -> Scenario:
    """Scenario from YAML text; raises ScenarioError listing every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ScenarioError([f"{filename}{line}: not valid YAML: {exc.problem or exc.context}"]) from None
    if root is None:
        raise ScenarioError([f"{filename}: the file is empty"])
    if not isinstance(root, yaml.MappingNode):
        raise ScenarioError([f"{filename}:{root.start_mark.line + 1}: a scenario is a mapping (name:, load:, ...)"])
    # every mistake in one answer, not in rounds: duplicates, then the schema's, then (when only
    # unknown fields stood in the way) the cross-field problems of the file without them
    problems = [f"{filename}:{line}: {key!r} appears twice" for line, key in _duplicate_keys(root)]
    data = yaml.safe_load(text)
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        for err in errors:
            loc = _drop_tags(tuple(err["loc"]))
            # an unknown field is on its own key's line, whatever it holds
            at = _key_line(root, loc) if err["type"] == "extra_forbidden" else _line(root, loc)
            problems.append(f"{filename}:{at}: {_dotted(loc) or '(top)'}: {_message(err)}")
        if all(err["type"] == "extra_forbidden" for err in errors):
            scenario = _without(data, [tuple(err["loc"]) for err in errors])
    if scenario is not None:
        problems += [f"{filename}:{_line(root, path)}: {_dotted(path)}: {msg}" for path, msg in scenario.problems()]
    if problems:
        raise ScenarioError(_unique(problems))
    assert scenario is not None
    return scenario


def _unique(lines: list[str]) -> list[str]:
    """Each problem once, in the order of the file's lines."""
    def line_of(text: str) -> int:
        match = re.match(r"^.*?:(\d+): ", text)
        return int(match.group(1)) if match else 0

    return sorted(dict.fromkeys(lines), key=line_of)


def _key_line(root: yaml.Node, loc: tuple[Any, ...]) -> int:
    """1-based line of the key ``loc[-1]`` in the mapping at ``loc[:-1]``."""
    node = root
    for part in loc[:-1]:
        child = _child(node, part)
        if child is not None:
            node = child
    if isinstance(node, yaml.ScalarNode):
        return node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(loc[-1]):
                return key.start_mark.line + 1
    return _line(root, loc)


def _without(data: Any, locs: list[tuple[Any, ...]]) -> Scenario | None:
    """The scenario with the unknown fields at ``locs`` left out, if that makes it valid."""
    import copy

    repaired = copy.deepcopy(data)
    for loc in locs:
        node = repaired
        for part in loc[:-1]:
            if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            # else a discriminator tag in the location: stay on this node
        if isinstance(node, dict):
            node.pop(loc[-1], None)
    try:
        return Scenario.model_validate(repaired)
    except ValidationError:
        return None


def _message(err: ErrorDetails) -> str:
    msg = str(err["msg"])
    if err["type"] == "missing":
        return f"missing field {err['loc'][-1]!r}" if err["loc"] else msg
    if err["type"] == "extra_forbidden":
        name = str(err["loc"][-1])
        close = difflib.get_close_matches(name, field_names_at(tuple(err["loc"][:-1])), n=1, cutoff=0.6)
        return f"unknown field {name!r}" + (f"; did you mean {close[0]}?" if close else "")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def _drop_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Remove the discriminator tag pydantic puts in a location (``load.arrivals.stages``)."""
    from ragchaos.scenarios.loads import LOAD_KINDS

    return tuple(p for i, p in enumerate(loc) if not (i > 0 and loc[i - 1] == "load" and p in LOAD_KINDS))


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _line(root: yaml.Node, path: tuple[Any, ...]) -> int:
    """1-based line of the deepest node on ``path`` that exists in the file."""
    node = root
    for part in path:
        child = _child(node, part)
        if child is None:
            continue  # a discriminator tag or a missing field: stay on the parent
        node = child
    return node.start_mark.line + 1


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                # a scalar's problem is on its value; a block's is on its key line
                return value if isinstance(value, yaml.ScalarNode) else key if not value.value else value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    out.append((key.start_mark.line + 1, key.value))
                seen.add(key.value)
            out += _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            out += _duplicate_keys(item)
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through unions, lists, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    args = typing.get_args(annotation)
    if origin is dict:
        args = args[1:]  # the values, not the keys
    elif origin is typing.Annotated:
        args = args[:1]
    out: list[type[BaseModel]] = []
    for arg in args:
        out += _models_in(arg)
    return out


def field_names_at(loc: tuple[Any, ...]) -> list[str]:
    """Every field name (and alias) valid at ``loc`` in a scenario: the vocabulary of "did you
    mean". A discriminator tag or a list index in ``loc`` keeps the models found so far."""
    models: list[type[BaseModel]] = [Scenario]
    for part in loc:
        inner: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(str(part))
            if field is not None:
                inner += _models_in(field.annotation)
        if inner:
            models = inner
        # else a list index, a mapping key (an app name) or a discriminator tag: same models
    names: list[str] = []
    for model in models:
        for name, field in model.model_fields.items():
            names.append(field.alias or name)
    return sorted(set(names))
