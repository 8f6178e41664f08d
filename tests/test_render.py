"""Chart files come out the same in the worker processes and in the calling process, and do
not depend on the machine's fonts (render-fonts.conf: vl-convert's own Liberation Sans only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ippmd.reporting.charts import FONT, VL_VERSION
from ippmd.reporting.render import FONTS_CONF, ChartWorkers

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def spec(font: str) -> dict:
    return {
        "config": {"font": font},
        "title": {"text": "Plans to emigrate ~ Vocational training", "subtitle": ["SYNTHETIC DATA"]},
        "mark": "point",
        "data": {"values": [{"x": 1, "y": "KHM"}, {"x": 2, "y": "PHL"}]},
        "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "nominal"}},
    }


def draw_in_a_new_process(specs: dict[str, dict], folder: Path, ours: bool = True) -> dict[str, bytes]:
    """PNG bytes of each spec, drawn by `render` (ours) or by plain vl-convert, in a fresh process."""
    script = (
        "import json, sys\nfrom pathlib import Path\n"
        "specs, folder, ours = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == '1'\n"
        "if ours:\n    from ippmd.reporting.render import render\n"
        f"    for name, s in specs.items(): render(s, name, str(folder), {VL_VERSION!r}, 2)\n"
        "else:\n    import vl_convert\n    folder.mkdir(parents=True, exist_ok=True)\n"
        "    for name, s in specs.items():\n"
        f"        svg = vl_convert.vegalite_to_svg(s, vl_version={VL_VERSION!r})\n"
        "        (folder / f'{name}.png').write_bytes(vl_convert.svg_to_png(svg, scale=2))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(specs), str(folder), "1" if ours else "0"],
        check=True, timeout=120,
    )  # fmt: skip
    return {name: (folder / f"{name}.png").read_bytes() for name in specs}


def test_worker_and_calling_process_draw_the_same_bytes(tmp_path: Path) -> None:
    assert FONTS_CONF.is_file()
    workers = ChartWorkers(VL_VERSION, 2, workers=1)
    workers.start({"chart": spec(FONT)}, tmp_path / "worker")
    drawn = workers.finish()["chart"]
    here = draw_in_a_new_process({"chart": spec(FONT)}, tmp_path / "here")
    assert Path(drawn["png"]).read_bytes() == here["chart"]
    assert 'font-family="Liberation Sans' in Path(drawn["svg"]).read_text(encoding="utf-8")


@pytest.mark.skipif(not DEJAVU.is_file(), reason="needs a system font (DejaVu Sans) to hide")
def test_charts_see_no_system_font(tmp_path: Path) -> None:
    """A system font (DejaVu Sans, installed here) is invisible to our charts: asked for alone,
    it draws nothing, where plain vl-convert draws it; `charts.FONT` is drawn."""
    from PIL import Image

    specs = {"system": spec("DejaVu Sans"), "ours": spec(FONT)}
    ours = draw_in_a_new_process(specs, tmp_path / "ours")
    plain = draw_in_a_new_process(specs, tmp_path / "plain", ours=False)
    assert ours["system"] != plain["system"]

    def dark_pixels_in_title(png: Path) -> int:
        image = Image.open(png).convert("L")
        top = image.crop((0, 0, image.width, image.height // 5))
        return sum(top.histogram()[:100])

    assert dark_pixels_in_title(tmp_path / "ours" / "ours.png") > 200
    assert dark_pixels_in_title(tmp_path / "ours" / "system.png") == 0
    assert dark_pixels_in_title(tmp_path / "plain" / "system.png") > 200
