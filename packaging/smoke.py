"""Smoke test of an installed (or frozen) annotator: start the GUI offscreen and annotate one click.

Run it with the interpreter of the installation under test, from a directory outside the source
tree, so that only the installed package can be imported:

    cd "$(mktemp -d)" && /path/to/venv/bin/python /path/to/packaging/smoke.py --installed

The PyInstaller build runs the same checks with `dist/annotator/annotator --smoke-test`.

It goes through the real entry point (`annotator.cli.main(["--sample"])`: the generated sample
folder, the classic engine), waits for the image to be embedded, clicks inside a shape on the
canvas and checks that an object with a non-empty mask appears. It also checks the package data
(the app icon, py.typed), that every CLI subcommand imports, and that start-up did not import torch.
Exits 0 when all is well, 1 with a message otherwise (also on timeout).
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib.resources
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Only the SAM engines may import these, and only when one is loaded: the small build leaves them out.
LAZY = ("torch", "transformers", "onnxruntime")
# A point inside the first shape of the first sample image (annotator.sample: SHAPE_CENTRES[0] of 960x540).
CLICK = (192.0, 162.0)


class Failed(Exception):
    """A check failed; the message says which."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


def check_install(require_installed: bool) -> None:
    """The package is the installed one, its data files are there, and every subcommand imports."""
    import annotator
    from annotator import cli
    from annotator.icons import icon_path

    location = Path(annotator.__file__).resolve().parent
    if require_installed:
        source = Path(__file__).resolve().parent.parent / "annotator"
        check(location != source, f"annotator was imported from the source tree ({location}), not the installation")
    for kind in ("png", "svg"):
        path = icon_path(kind)
        check(path.is_file() and path.stat().st_size > 0, f"package data missing: {path}")
    check((importlib.resources.files("annotator") / "py.typed").is_file(), "package data missing: annotator/py.typed")
    parser = cli._build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # Modules are named after their command, except where a command is not an identifier (3d: threed).
    missing = sorted(name for name in cli.SUBCOMMANDS if f"annotator.cli.{name}" not in sys.modules)
    check(len(commands) == len(cli.SUBCOMMANDS) + 1, f"CLI commands registered: {sorted(commands)}")
    check(not missing, f"CLI subcommands that did not import: {', '.join(missing)}")
    print(f"smoke: annotator {annotator.__version__} from {location}; subcommands: {', '.join(sorted(commands))}")


def check_icons() -> None:
    """The icons load with Qt (PNG through the image plugins, SVG through QtSvg)."""
    from PySide6.QtGui import QIcon, QImage
    from PySide6.QtSvg import QSvgRenderer

    from annotator.icons import icon_path

    image = QImage(str(icon_path("png")))
    check(not image.isNull() and image.width() == 256, f"app icon {icon_path('png')} does not load as a 256 px PNG")
    check(QSvgRenderer(str(icon_path("svg"))).isValid(), f"app icon {icon_path('svg')} does not load as SVG")
    check(not QIcon(str(icon_path("png"))).isNull(), "QIcon of the app icon is null")


class Driver:
    """Drives the window from the event loop: wait for the embedding, click, wait for the mask."""

    def __init__(self, app, timeout: float) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.deadline = time.monotonic() + timeout
        self.stage = "window"
        self.window = None
        self.error: str | None = None
        self.clicked_at = 0.0

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.timeout.connect(self.step)
        self.timer.start(50)

    def finish(self, error: str | None) -> None:
        self.timer.stop()
        self.error = error
        if self.window is not None:
            self.window.close()  # stops the engine thread and closes the project
        self.app.exit(1 if error else 0)

    def step(self) -> None:
        try:
            if time.monotonic() > self.deadline:
                raise Failed(f"timed out while waiting for: {self.stage}")
            done = getattr(self, f"_{self.stage}")()
        except Failed as error:
            self.finish(str(error))
        except Exception as error:  # anything unexpected is a failure with its traceback
            import traceback

            traceback.print_exc()
            self.finish(f"{type(error).__name__}: {error}")
        else:
            if done:
                self.finish(None)

    def _window(self) -> bool:
        from annotator.views.main_window import MainWindow

        windows = [w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].project is not None and windows[0].session.item is not None:
            self.window = windows[0]
            items = self.window.project.items
            check(len(items) == 4, f"the sample folder should give 4 items, got {len(items)}")
            check(not self.app.windowIcon().isNull(), "the application has no window icon")
            print(f"smoke: window open on {self.window.project.path.parent} ({len(items)} items)")
            self.stage = "embedding"
        return False

    def _embedding(self) -> bool:
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest

        session = self.window.session
        if session.key not in session.embedded_keys:
            return False
        canvas = self.window.canvas
        point = canvas.mapFromScene(QPointF(*CLICK))
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        self.clicked_at = time.monotonic()
        self.stage = "mask"
        return False

    def _mask(self) -> bool:
        window = self.window
        objects = window.project.objects(window.session.item.id)
        if not objects:
            return False
        mask = window.project.mask(objects[0].id)
        if mask is None or mask.area == 0:
            return False
        check(mask.to_array()[int(CLICK[1]), int(CLICK[0])], "the mask does not contain the clicked point")
        elapsed = (time.monotonic() - self.clicked_at) * 1000
        print(f"smoke: click at {CLICK} gave an object with a {mask.area} px mask in {elapsed:.0f} ms")
        return True


def close_windows() -> None:
    """Close what a failed start-up left open (a MainWindow stops its engine thread on close)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    for widget in app.topLevelWidgets() if app is not None else []:
        widget.close()


def run(timeout: float, require_installed: bool) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="annotator-smoke-"))
    for name in ("CACHE", "CONFIG", "DATA"):
        os.environ[f"ANNOTATOR_{name}_DIR"] = str(home / name.lower())
    # A hang in native code must still end the run: dump the stacks and exit.
    faulthandler.dump_traceback_later(timeout + 60, exit=True)
    try:
        check_install(require_installed)
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from annotator import cli

        app = QApplication.instance() or QApplication(sys.argv[:1])
        check_icons()
        driver = Driver(app, timeout)
        QTimer.singleShot(0, driver.start)
        status = cli.main(["--sample"])  # the real start-up path; returns when the driver exits the loop
        if driver.error:
            raise Failed(driver.error)
        check(status == 0, f"the GUI exited with status {status}")
        loaded = [name for name in LAZY if name in sys.modules]
        check(not loaded, f"start-up imported {', '.join(loaded)}: only the SAM engines may import it, lazily")
    except Failed as error:
        print(f"smoke: FAILED: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # start-up itself broke: show where
        import traceback

        traceback.print_exc()
        print(f"smoke: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        close_windows()
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()
        shutil.rmtree(home, ignore_errors=True)
    print("smoke: OK")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offscreen smoke test of an installed annotator.")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before giving up (default 120)")
    parser.add_argument("--installed", action="store_true", help="fail when annotator is imported from the source tree")
    args = parser.parse_args(argv)
    return run(args.timeout, args.installed)


if __name__ == "__main__":
    raise SystemExit(main())
