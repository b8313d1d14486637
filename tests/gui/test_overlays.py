"""The overlay image of a mask: colour-table indices for fill, inner ring, outline and outside."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from annotator.views.overlays import mask_image

pytestmark = pytest.mark.gui


def indices(image) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([[image.pixelIndex(x, y) for x in range(image.width())] for y in range(image.height())])


def test_a_square_gets_an_outline_an_inner_ring_and_a_fill(qapp) -> None:  # type: ignore[no-untyped-def]
    crop = np.zeros((9, 11), bool)
    crop[1:8, 1:10] = True
    image = mask_image(crop, (200, 10, 10), 0.4)
    gc.collect()  # the image owns its pixels: nothing it points into may go away
    got = indices(image)
    assert image.width() == 11 and image.height() == 9
    assert (got[~crop] == 0).all()
    assert (got[1, 1:10] == 3).all() and (got[1:8, 1] == 3).all() and (got[7, 1:10] == 3).all()
    assert (got[2, 2:9] == 2).all() and (got[2:7, 2] == 2).all()
    assert (got[3:6, 3:8] == 1).all()
    red, green, blue, alpha = (image.colorTable()[1] >> s & 255 for s in (16, 8, 0, 24))
    assert (red, green, blue) == (200, 10, 10) and alpha == int(255 * 0.4)


def test_a_thin_mask_is_all_fill_and_an_empty_crop_is_no_image(qapp) -> None:  # type: ignore[no-untyped-def]
    thin = np.ones((3, 40), bool)
    assert (indices(mask_image(thin, (0, 0, 255), 0.5)) == 1).all()
    assert mask_image(np.zeros((0, 5), bool), (0, 0, 255), 0.5).isNull()


def test_the_canvas_does_not_rebuild_the_overlay_of_the_mask_already_on_screen(qapp) -> None:  # type: ignore[no-untyped-def]
    from annotator.document import Mask
    from annotator.views.canvas import CanvasView

    canvas = CanvasView()
    full = np.zeros((40, 60), bool)
    full[5:20, 10:30] = True
    mask = Mask.from_array(full)
    canvas.set_overlay(1, mask, (200, 10, 10), False, True)
    first = canvas.overlays[1].pixmap().cacheKey()
    canvas.set_overlay(1, mask, (200, 10, 10), False, True)  # the save's redraw of a mask painted first
    assert canvas.overlays[1].pixmap().cacheKey() == first
    canvas.set_overlay(1, mask, (200, 10, 10), True, True)  # selected now: drawn again
    assert canvas.overlays[1].pixmap().cacheKey() != first
    canvas.set_overlay(1, Mask.from_array(full), (200, 10, 10), True, True)  # an equal but new mask: drawn
    canvas.set_overlay(1, None, (200, 10, 10), True, True)
    assert 1 not in canvas.overlays
    canvas.set_overlay(1, mask, (200, 10, 10), False, True)  # removed, then shown again: drawn
    assert 1 in canvas.overlays and canvas.overlays[1].pixmap().cacheKey() != first
    canvas.deleteLater()


def test_a_proposal_is_hatched_or_only_outlined(qapp) -> None:  # type: ignore[no-untyped-def]
    from annotator.views.overlays import proposal_image

    crop = np.zeros((30, 40), bool)
    crop[5:25, 5:35] = True

    def indices(striped: bool) -> np.ndarray:
        image = proposal_image(crop, (200, 40, 40), (0, 0), striped=striped)
        return np.frombuffer(image.constBits(), np.uint8).reshape(30, image.bytesPerLine())[:, :40].copy()

    hatched, outlined = indices(True), indices(False)
    inside = np.zeros_like(crop)
    inside[8:22, 8:32] = True
    assert (hatched[inside] == 1).mean() > 0.2  # stripes inside
    assert not (outlined[inside] != 0).any()  # a clear inside
    assert np.array_equal(outlined[~inside & crop] > 1, hatched[~inside & crop] > 1)  # the same dashed outline
