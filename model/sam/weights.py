"""Model weights on disk: list what is installed, import a local folder, download from the hub.

Weights live in `weights_dir() / NAME` in transformers format (config.json + *.safetensors).
Downloads go through huggingface_hub (resumable; files verified by the hub client) into that
folder; no network, or a gated model without a token, gives WeightsUnavailable naming the model,
the files and the folder to place them in.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from model.errors import Cancelled, EngineError, WeightsUnavailable
from model.paths import weights_dir
from model.sam.catalog import CATALOG, KNOWN

log = logging.getLogger(__name__)

FILES = "config.json and model.safetensors"
Progress = Callable[[int, int], None]


def installed(name: str) -> Path | None:
    """The folder of an installed model, or None."""
    folder = weights_dir() / name
    return folder if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) else None


def install(name: str, write: Callable[[Path], object]) -> Path:
    """`write` a model folder into a partial folder, then put it in place of model `name`'s
    (an interrupted import leaves the installed weights as they were)."""
    target = weights_dir() / name
    partial = target.with_name(name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    write(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def import_folder(source: Path, name: str) -> Path:
    """Copy a transformers-format folder in as model `name` (checked before anything is copied)."""
    source = Path(source)
    if name not in KNOWN:
        raise EngineError(f"unknown model '{name}'; known: {', '.join(KNOWN)}")
    if not (source / "config.json").is_file() or not any(source.glob("*.safetensors")):
        raise EngineError(f"{source}: not a transformers-format model folder (needs {FILES})")
    return install(name, lambda partial: shutil.copytree(source, partial))


# Meta's file names -> our model names.
CHECKPOINT_NAMES = (
    (re.compile(r"sam_vit_([blh])"), lambda m: f"sam-vit-{m[1]}"),
    (re.compile(r"sam2\.1_hiera_(tiny|small|base_plus|large)"), lambda m: f"sam2.1-{m[1].replace('_', '-')}"),
)


def checkpoint_name(path: Path) -> str | None:
    """Our model name for a Meta checkpoint file name (sam_vit_b_01ec64.pth -> sam-vit-b), or None."""
    for pattern, name in CHECKPOINT_NAMES:
        match = pattern.search(Path(path).name)
        if match:
            return name(match)
    return None


def import_checkpoint(path: Path, name: str | None = None) -> Path:
    """Convert a Meta checkpoint (.pth/.pt) by our key mapping and install it as model `name`
    (by default named from the file) in transformers format; SAM 2.1 keeps its video modules."""
    from model.sam.convert import load_meta_checkpoint

    path = Path(path)
    name = name or checkpoint_name(path)
    if name is None:
        raise EngineError(
            f"{path}: cannot tell which model this is from its name; pass --name (see `annotator models list`)"
        )
    if name not in CATALOG:
        raise EngineError(f"unknown model '{name}'; known: {', '.join(CATALOG)}")
    architecture = CATALOG[name].architecture
    if architecture not in ("sam", "sam2"):
        raise EngineError(f"{name}: only SAM and SAM 2.1 checkpoints can be converted; download {name} instead")
    model = load_meta_checkpoint(path, video=architecture == "sam2")
    found = "sam2" if type(model).__name__.startswith("Sam2") else "sam"
    if found != architecture:
        kinds = {"sam": "SAM (v1)", "sam2": "SAM 2"}
        raise EngineError(f"{path}: is a {kinds[found]} checkpoint, not {name}")
    return install(name, model.save_pretrained)


def download(name: str, progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Fetch model `name` from the hub into the weights folder (progress in bytes; cancel stops it)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
    from tqdm.auto import tqdm

    if name not in KNOWN:
        raise EngineError(f"unknown model '{name}'; known: {', '.join(KNOWN)}")
    entry = KNOWN[name]
    target = weights_dir() / name

    class Reporter(tqdm):  # type: ignore[misc, valid-type]
        """Forwards the hub client's byte counts, and stops the download when cancelled."""

        def update(self, n: float | None = 1) -> bool | None:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"download of {name} cancelled")
            result = super().update(n)
            if progress is not None and self.total:
                progress(int(self.n), int(self.total))
            return result

    try:
        snapshot_download(entry.hub_id, local_dir=target, tqdm_class=Reporter)
    except GatedRepoError as error:
        raise WeightsUnavailable(name, FILES, str(target), "gated model: log in with a token first") from error
    except (LocalEntryNotFoundError, RepositoryNotFoundError, OSError) as error:
        raise WeightsUnavailable(name, FILES, str(target), f"cannot download: {type(error).__name__}") from error
    except Exception as error:
        if type(error).__name__ in ("ConnectError", "ConnectionError", "HTTPError", "OfflineModeIsEnabled"):
            raise WeightsUnavailable(name, FILES, str(target), "no network") from error
        raise
    if installed(name) is None:
        raise WeightsUnavailable(name, FILES, str(target), "the download did not contain them")
    return target
