from __future__ import annotations

from pathlib import Path

import pytest

from centre.cli import main
from gridwatch.secrets import mask_url
from gridwatch.settings import SettingsError, load_settings


def test_unknown_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "gw.toml"
    f.write_text('[vision]\nmodle = "x.pt"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    assert "vision.modle" in str(err.value)
    assert "unknown key" in str(err.value)


def test_wrong_type_is_named(tmp_path: Path) -> None:
    f = tmp_path / "gw.toml"
    f.write_text("[ingest]\ndetect_fps = -3\n")
    with pytest.raises(SettingsError, match="ingest.detect_fps"):
        load_settings(f)


def test_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "gw.toml"
    f.write_text("[vision\nmodel = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(f)


def test_unknown_category_code_rejected() -> None:
    with pytest.raises(SettingsError, match="rules.dwell_category"):
        load_settings(None, rules={"dwell_category": "9999"})


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "gw.toml"
    f.write_text("[dashboard]\nport = 9000\n")
    monkeypatch.setenv("GRIDWATCH_DASHBOARD__PORT", "9100")
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@127.0.0.1:6390/0")
    s = load_settings(f)
    assert s.dashboard.port == 9100
    assert s.redis_url is not None and s.redis_url.get_secret_value().endswith(":6390/0")


def test_passwords_never_in_repr_or_json() -> None:
    s = load_settings(
        None,
        redis_url="redis://:s3cret@127.0.0.1:6390/0",
        cameras=[{"id": "car-1", "name": "Car 1", "url": "rtsp://admin:hunter2@10.0.0.5:554/live"}],
    )
    text = repr(s) + str(s) + s.model_dump_json()
    assert "hunter2" not in text and "s3cret" not in text
    assert "rtsp://admin:***@10.0.0.5:554/live" in text
    assert s.cameras[0].url.get_secret_value() == "rtsp://admin:hunter2@10.0.0.5:554/live"


def test_mask_url_leaves_plain_urls() -> None:
    assert mask_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    assert mask_url("redis://:pw@h:1/0") == "redis://***@h:1/0"


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[cameras]]\nid = "car-7"\nname = "Car 7"\nurl = "rtsp://u:pw@127.0.0.1:8554/x"\n')
    assert main(["check-config", str(good)]) == 0
    assert "1 cameras" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[cameras]]\nid = "Car 7!"\nname = "x"\nurl = "rtsp://h/x"\n')
    assert main(["check-config", str(bad)]) == 2
    assert "cameras.0.id" in capsys.readouterr().err


def test_readme_lists_every_setting() -> None:
    from gridwatch.settings import REPO_ROOT
    from gridwatch.settings_doc import readme_section

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section() in readme, "README settings table is stale: run python -m gridwatch.settings_doc"
