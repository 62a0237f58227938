"""Settings are data: every one is documented, and the sources layer as promised."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlytics.errors import ConfigError
from agentlytics.settings import load_settings, setting_names

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [
        n for n in setting_names() if f"`{n}`" not in text or f"AGENTLYTICS_{n.upper()}" not in text
    ]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"


def test_precedence_is_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\ningest-rate-limit = 5\n')
    s = load_settings(
        {"port": 9100}, environ={"AGENTLYTICS_HOST": "10.0.0.1"}, config_file=str(config)
    )
    assert (s.port, s.host, s.ingest_rate_limit, s.data_dir) == (
        9100,
        "10.0.0.1",
        5,
        "./agentlytics-data",
    )
    assert (
        load_settings(environ={"AGENTLYTICS_OPEN_PROVISIONING": "off"}).open_provisioning is False
    )


def test_bad_settings_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings(environ={"AGENTLYTICS_PORT": "eighty"})
    bad = tmp_path / "b.toml"
    bad.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(environ={}, config_file=str(bad))
