"""Render the app icon: resources/annotator.svg -> resources/annotator.png (256 px), with Qt.

The SVG in resources/ is the source. The package ships its own copy (annotator/icons/, package
data, so an installed wheel and the PyInstaller build find it); this script writes that copy too.

    python packaging/render_icon.py          # render and copy
    python packaging/render_icon.py --check  # exit 1 when the package copies differ
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "annotator.svg"
PNG = ROOT / "resources" / "annotator.png"
PACKAGE = ROOT / "annotator" / "icons"
SIZE = 256


def render(svg: Path, png: Path, size: int = SIZE) -> None:
    """Draw `svg` into a transparent `size` x `size` PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"render_icon: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise SystemExit(f"render_icon: could not write {png}")


def check() -> list[str]:
    """Differences between resources/ and the package copies (empty when all is in place)."""
    problems = []
    for copy in (PACKAGE / SOURCE.name, PACKAGE / PNG.name):
        original = SOURCE if copy.suffix == ".svg" else PNG
        if not copy.exists() or copy.read_bytes() != original.read_bytes():
            problems.append(f"{copy.relative_to(ROOT)} differs from {original.relative_to(ROOT)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args()
    if args.check:
        problems = check()
        for problem in problems:
            print(f"render_icon: {problem}; run python packaging/render_icon.py", file=sys.stderr)
        return 1 if problems else 0
    render(SOURCE, PNG)
    PACKAGE.mkdir(exist_ok=True)
    shutil.copyfile(SOURCE, PACKAGE / SOURCE.name)
    shutil.copyfile(PNG, PACKAGE / PNG.name)
    print(f"wrote {PNG.relative_to(ROOT)} ({PNG.stat().st_size} bytes) and the copies in {PACKAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
