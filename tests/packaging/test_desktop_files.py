"""The desktop entry, AppStream metainfo and icon: they parse, agree with each other, and pass the
freedesktop validators when those are installed (Debian: desktop-file-utils, appstream)."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.creativestudio.Studio"
DESKTOP = ROOT / "resources" / "linux" / f"{APP_ID}.desktop"
METAINFO = ROOT / "resources" / "linux" / f"{APP_ID}.metainfo.xml"
ICON = ROOT / "resources" / "icons" / f"{APP_ID}.png"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_desktop_entry_launches_the_studio_command_with_its_icon() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "studio"  # the console script and the bundle's executable
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert "Graphics" in entry["Categories"].split(";")


def test_metainfo_names_the_desktop_entry_and_its_release() -> None:
    component = ET.parse(METAINFO).getroot()
    assert component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    assert component.find("launchable").text == DESKTOP.name
    assert component.findtext("icon") == APP_ID
    assert component.find("provides/binary").text == "studio"
    from studio import __version__

    assert component.find("releases/release").get("version") == __version__
    assert component.findtext("metadata_license") and component.findtext("project_license")


def test_icon_is_a_square_png_with_transparent_corners() -> None:
    with Image.open(ICON) as icon:
        assert icon.format == "PNG" and icon.size == (256, 256) and icon.mode == "RGBA"
        assert icon.getpixel((0, 0))[3] == 0  # rounded corners
        assert icon.getpixel((128, 40))[3] == 255  # the body is opaque


def test_drawing_script_draws_the_committed_icon() -> None:
    spec = importlib.util.spec_from_file_location("draw_icon", ROOT / "packaging" / "draw_icon.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # packaging/ is a folder of scripts, not a package (PyPI's 'packaging')
    draw_icon = module.draw_icon

    def on_white(image: Image.Image) -> Image.Image:
        return Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA")).convert("RGB")

    with Image.open(ICON) as committed:
        drawn = on_white(draw_icon(64))
        small = on_white(committed.resize((64, 64), Image.Resampling.LANCZOS))
        mean_difference = ImageStat.Stat(ImageChops.difference(drawn, small)).mean
        assert max(mean_difference) < 2, mean_difference  # the same drawing (edges resample differently)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate not installed (Debian: desktop-file-utils)")
def test_desktop_file_validate_reports_nothing() -> None:
    run = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed (Debian: appstream)")
def test_appstreamcli_validates_the_metainfo() -> None:
    run = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "E:" not in run.stdout and "W:" not in run.stdout, run.stdout
