"""Config loading: defaults, overrides, env keys, and errors that name the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ragchaos.provider.config import ConfigError, load_config


def test_defaults_are_a_low_paid_tier() -> None:
    config = load_config(None, env={})
    assert set(config.all_keys()) == {"naive", "reference", "test"}
    assert (config.embeddings_limits.rpm, config.embeddings_limits.tpm) == (500, 1_000_000)
    assert (config.chat_limits.rpm, config.chat_limits.tpm) == (500, 200_000)
    assert config.latency.enabled and config.embeddings.default_dimensions == 384


def test_file_and_env_add_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("keys:\n  tiny:\n    embeddings: {rpm: 3}\nlatency:\n  enabled: false\n")
    config = load_config(path, env={"RAGCHAOS_PROVIDER_KEYS": "a, b,,tiny"})
    keys = config.all_keys()
    assert {"naive", "reference", "test", "tiny", "a", "b"} == set(keys)
    assert keys["tiny"].embeddings.rpm == 3  # the env does not overwrite the file's settings
    assert not config.latency.enabled


@pytest.mark.parametrize(("text", "expected"), [
    ("keys: [unclosed\n", "line 2"),
    ("latency:\n  enabeld: false\n", "latency.enabeld"),
    ("keys:\n  k:\n    chat: {rpm: -1}\n", "keys.k.chat.rpm"),
    ("- just\n- a list\n", "must be a mapping"),
    ('{"latency": {"tail_sigma": "big"}}', "latency.tail_sigma"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", env={})


def test_cli_refuses_bad_config_and_remote_hosts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"latency": {"enabled": "sometimes"}}')
    run = subprocess.run([sys.executable, "-m", "ragchaos", "provider", "serve", "--port", "1", "--config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and str(bad) in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "ragchaos.provider", "--host", "0.0.0.0", "--port", "8000"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "loopback" in run.stderr


def test_the_example_config_loads_and_shows_the_defaults() -> None:
    from ragchaos.provider.config import ProviderConfig

    example = load_config(Path(__file__).parents[2] / "ragchaos" / "provider" / "config.example.yaml", env={})
    defaults = ProviderConfig()
    # apart from its two example keys, the example file is exactly the defaults
    assert example.model_copy(update={"keys": {}}) == defaults
    assert example.keys["tiny"].chat.rpm == 10 and example.keys["broke"].insufficient_quota
