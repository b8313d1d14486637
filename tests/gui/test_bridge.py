"""EngineBridge: coalescing, ordering, errors and the embedding cache, on its real thread."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import DiscEngine, disc_factory

from annotator.bridge import EngineBridge
from model.protocol import Prompt

pytestmark = pytest.mark.gui


def _bridge(engine: DiscEngine) -> EngineBridge:
    bridge = EngineBridge(factory=disc_factory(engine))
    bridge.set_engine("disc")
    return bridge


def test_drags_coalesce_latest_wins_and_clicks_wait_for_the_embedding(qtbot) -> None:  # type: ignore[no-untyped-def]
    engine = DiscEngine(embed_seconds=0.4)
    bridge = _bridge(engine)
    image = np.zeros((60, 80, 3), np.uint8)
    results: list[int] = []
    bridge.predicted.connect(lambda rid, key, prediction, ms: results.append(rid))
    bridge.embed("a", image)
    drags = [bridge.predict("a", Prompt(box=np.array([0, 0, 10 + i, 10 + i])), coalesce="drag") for i in range(20)]
    click = bridge.predict("a", Prompt.from_clicks([(5, 5, True)]), coalesce="click")
    qtbot.waitUntil(lambda: click in results, timeout=10000)
    assert drags[-1] in results and len([r for r in results if r in drags]) == 1  # stale drags never ran
    assert engine.embed_calls == 1
    bridge.stop()


def test_errors_become_signals_and_the_thread_keeps_serving(qtbot) -> None:  # type: ignore[no-untyped-def]
    bridge = _bridge(DiscEngine())
    errors: list[tuple[int, str, str]] = []
    bridge.errored.connect(lambda rid, kind, text: errors.append((rid, kind, text)))
    bad = bridge.predict("never embedded", Prompt.from_clicks([(1, 1, True)]))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert errors[0][0] == bad and "never given to the engine" in errors[0][2]
    done: list[int] = []
    bridge.embedded.connect(lambda rid, key, ms: done.append(rid))
    ok = bridge.embed("b", np.zeros((8, 8, 3), np.uint8))
    qtbot.waitUntil(lambda: ok in done, timeout=5000)
    bridge.stop()


def test_a_prediction_after_an_engine_reload_embeds_its_image_again(qtbot) -> None:  # type: ignore[no-untyped-def]
    engine = DiscEngine()
    bridge = _bridge(engine)
    embedded: list[int] = []
    bridge.embedded.connect(lambda rid, key, ms: embedded.append(rid))
    first = bridge.embed("image", np.zeros((40, 40, 3), np.uint8))
    qtbot.waitUntil(lambda: first in embedded, timeout=5000)
    ready: list[str] = []
    bridge.engine_ready.connect(lambda name, model, device: ready.append(name))
    bridge.set_engine("classic")  # the embeddings of the old engine are dropped
    qtbot.waitUntil(lambda: bool(ready), timeout=5000)
    results: list[int] = []
    bridge.predicted.connect(lambda rid, key, prediction, ms: results.append(int(prediction.best_mask.sum())))
    bridge.predict("image", Prompt.from_clicks([(20, 20, True)]))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results[0] > 0
    bridge.stop()


def test_slow_embeddings_are_reused_from_disk_by_a_new_bridge(qtbot) -> None:  # type: ignore[no-untyped-def]
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    first = DiscEngine(embed_seconds=0.3)
    bridge = _bridge(first)
    with qtbot.waitSignal(bridge.embedded, timeout=10000):
        bridge.embed("x", image)
    bridge.stop()
    second = DiscEngine(embed_seconds=0.3)
    again = _bridge(second)
    with qtbot.waitSignal(again.embedded, timeout=10000):
        again.embed("y", image)
    assert first.embed_calls == 1 and second.embed_calls == 0
    again.stop()


def test_a_click_shows_the_classic_engines_quick_mask_before_the_full_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    from annotator.evaluation.bench import synthetic_scene

    bridge = EngineBridge()
    bridge.set_engine("classic")
    image, truth = synthetic_scene((240, 320), seed=3)
    ys, xs = np.nonzero(truth == 1)
    click = Prompt.from_clicks([(float(np.median(xs)), float(np.median(ys)), True)])
    events: list[tuple[str, int, int]] = []
    bridge.previewed.connect(lambda rid, key, p, ms: events.append(("previewed", rid, len(p.masks))))
    bridge.predicted.connect(lambda rid, key, p, ms: events.append(("predicted", rid, len(p.masks))))
    bridge.embed("a", image)
    first = bridge.predict("a", click, quick="first")
    qtbot.waitUntil(lambda: ("predicted", first, 3) in events, timeout=20000)
    assert events == [("previewed", first, 1), ("predicted", first, 3)]
    only = bridge.predict("a", click, quick="only")
    qtbot.waitUntil(lambda: len(events) == 3, timeout=20000)
    assert events[2] == ("predicted", only, 1)  # a drag gets the quick mask alone
    bridge.stop()
