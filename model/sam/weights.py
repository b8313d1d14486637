"""Model weights on disk: list what is installed, import a local folder, download from the hub.

Weights live in `weights_dir() / NAME` in transformers format (config.json + *.safetensors).
Downloads go through huggingface_hub (resumable; files verified by the hub client) into that
folder; no network, or a gated model without a token, gives WeightsUnavailable naming the model,
the files and the folder to place them in.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from model.errors import Cancelled, EngineError, WeightsUnavailable
from model.paths import weights_dir
from model.sam.catalog import CATALOG

log = logging.getLogger(__name__)

FILES = "config.json and model.safetensors"
Progress = Callable[[int, int], None]


def installed(name: str) -> Path | None:
    """The folder of an installed model, or None."""
    folder = weights_dir() / name
    return folder if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) else None


def import_folder(source: Path, name: str) -> Path:
    """Copy a transformers-format folder in as model `name` (checked before anything is copied)."""
    source = Path(source)
    if name not in CATALOG:
        raise EngineError(f"unknown model '{name}'; known: {', '.join(CATALOG)}")
    if not (source / "config.json").is_file() or not any(source.glob("*.safetensors")):
        raise EngineError(f"{source}: not a transformers-format model folder (needs {FILES})")
    target = weights_dir() / name
    partial = target.with_name(name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def download(name: str, progress: Progress | None = None, cancel: threading.Event | None = None) -> Path:
    """Fetch model `name` from the hub into the weights folder (progress in bytes; cancel stops it)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
    from tqdm.auto import tqdm

    if name not in CATALOG:
        raise EngineError(f"unknown model '{name}'; known: {', '.join(CATALOG)}")
    entry = CATALOG[name]
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
