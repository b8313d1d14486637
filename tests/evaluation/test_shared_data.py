"""The classic engine meets the issue's quality targets on ../shared/data (timings not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.evaluation.clicks import evaluate_clicks
from annotator.evaluation.data import list_images, list_videos
from annotator.evaluation.video import evaluate_video
from model import registry

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_click_targets(shared_data: Path) -> None:
    report = evaluate_clicks(registry.create("classic"), list_images(shared_data), max_clicks=20)
    assert report.mean("noc90") <= 9
    assert report.mean("noc85") <= 6
    assert report.mean("iou5") >= 0.85


def test_video_target(shared_data: Path) -> None:
    report = evaluate_video(registry.create("classic"), list_videos(shared_data))
    assert report.mean("jf") >= 0.70
