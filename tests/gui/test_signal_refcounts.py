"""Long sessions must not abort: emitting Qt signals keeps the refcounts of True, False and None.

PySide6 6.12.0 decrements True's refcount on every `Signal.emit()`; on Python 3.11, where True
and None are not immortal, a long stretch of work then aborts with "deallocating True or False"
or "deallocating None". The check runs in a child process so that such an abort fails this test
instead of killing the suite.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

CHILD = """
import sys, threading
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Source(QObject):
    value = Signal(object)
    triple = Signal(int, object, float)
source = Source()
seen = []
source.value.connect(lambda v: seen.append(v))
source.triple.connect(lambda i, v, f: None)
before = [sys.getrefcount(x) for x in (True, False, None)]
for _ in range(300):
    source.value.emit(None)
    source.value.emit(True)
    source.triple.emit(1, None, 0.5)
worker = threading.Thread(target=lambda: [source.value.emit(None) for _ in range(300)])
worker.start()
worker.join()
while len(seen) < 900:
    app.processEvents()
seen.clear()
after = [sys.getrefcount(x) for x in (True, False, None)]
print(before, after)
sys.exit(0 if all(abs(a - b) < 50 for a, b in zip(before, after)) else 1)
"""


def test_emitting_signals_keeps_the_refcounts_of_true_false_and_none() -> None:
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"refcounts drift or the process aborted:\n{result.stdout}{result.stderr[-2000:]}"
