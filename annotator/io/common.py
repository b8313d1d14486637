"""Helpers shared by the format modules: JSON reading with precise FormatErrors, atomic writes.

Every reader checks types through `Reader` so that a malformed file raises a FormatError naming
the file, the element (a JSON path such as `annotations[3].segmentation`) and the problem, and
never a KeyError or TypeError.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from annotator.errors import FormatError

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PIXELS = 300_000_000
"""Largest image (width x height) a file may declare: as for PIL's decompression-bomb guard."""
MEDIA_HINT = " (give the images folder with --images DIR, or --no-check-media to read the annotations without images)"
"""How a message about absent media says what to do."""

Progress = Callable[[int, int], None]
"""progress(done, total): called by long reads and writes; total may be 0 when unknown."""

_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}


def no_progress(done: int, total: int) -> None:
    """A progress callback that ignores the calls."""


def load_json(path: Path) -> Any:
    """Parse a JSON file; FormatError when it is missing, unreadable or malformed."""
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        raise FormatError(path, "", f"cannot be read: {error.strerror or error}") from error
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, "", f"is not valid JSON ({error})") from error
    except RecursionError as error:
        raise FormatError(path, "", "is nested too deeply") from error


def _umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it (briefly) and restore it
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The permission bits of a file written at `path`: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so no half file is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            # mkstemp makes the file 0600 and the rename keeps that mode: give it the mode a plain
            # open() would (the replaced file's, else 0666 less the umask).
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, indent: int | None = None) -> None:
    """Write `data` as JSON atomically (compact unless `indent` is given)."""
    separators = (",", ":") if indent is None else None
    write_bytes_atomic(path, json.dumps(data, indent=indent, separators=separators).encode("utf-8"))


class Reader:
    """Typed access to parsed JSON that raises FormatError(path, element, problem) on bad input."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def fail(self, element: str, problem: str) -> FormatError:
        """A FormatError for this file (to raise)."""
        return FormatError(self.path, element, problem)

    def check(self, value: Any, kind: type[T] | tuple[type, ...], element: str) -> T:
        """`value` when it has type `kind` (bool is never accepted as a number)."""
        kinds = kind if isinstance(kind, tuple) else (kind,)
        is_number = any(k in (int, float) for k in kinds)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds and is_number)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            wanted = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(element, f"must be {wanted}, not {_describe(value)}")
        return value  # type: ignore[return-value]

    def get(self, obj: dict, key: str, kind: type[T] | tuple[type, ...], element: str) -> T:
        """obj[key] checked to be of `kind`; FormatError when missing or of another type."""
        if key not in obj:
            raise self.fail(element, f"misses the key '{key}'")
        return self.check(obj[key], kind, f"{element}.{key}" if element else key)

    def opt(self, obj: dict, key: str, kind: type[T] | tuple[type, ...], element: str, default: Any = None) -> Any:
        """obj[key] checked like `get`, or `default` when the key is absent or null."""
        if obj.get(key) is None:
            return default
        return self.check(obj[key], kind, f"{element}.{key}" if element else key)

    def image_size(self, width: int, height: int, element: str) -> None:
        """Refuse an image size above MAX_PIXELS (a corrupt or hostile file would exhaust memory)."""
        if width * height > MAX_PIXELS:
            raise self.fail(element, f"declares a {width}x{height} image, larger than {MAX_PIXELS} pixels")

    def number(self, value: Any, element: str) -> float:
        """A finite JSON number as float."""
        number = float(self.check(value, (int, float), element))
        if number != number or number in (float("inf"), float("-inf")):
            raise self.fail(element, "must be a finite number")
        return number

    def integer(self, value: Any, element: str, minimum: int | None = None) -> int:
        """A JSON integer (an integral float is accepted), at least `minimum` when given."""
        number = self.number(value, element)
        if number != int(number):
            raise self.fail(element, f"must be an integer, not {value!r}")
        if minimum is not None and number < minimum:
            raise self.fail(element, f"must be at least {minimum}, not {int(number)}")
        return int(number)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _NAMES.items():
        if isinstance(value, bool):
            return f"{str(value).lower()}"
        if type(value) is kind:
            return name
    return type(value).__name__


def image_ref(path: str, root: Path) -> str:
    """How an export names a media file: its '/'-separated path below the folder `root`, else absolute.

    Never a name that climbs out of the root ('../a.jpg'): such a name resolves only from the
    place it was written, so a file outside the root is named by its absolute path.
    """
    media = Path(path.replace("\\", "/"))
    if not media.is_absolute():
        return media.as_posix()  # already relative to the root
    root = Path(root)
    for inner, outer in (
        (Path(os.path.abspath(media)), Path(os.path.abspath(root))),
        (media.resolve(), root.resolve()),
    ):
        try:
            return inner.relative_to(outer).as_posix()
        except ValueError:
            continue
    return media.as_posix()


def resolve(root: Path, name: str) -> str:
    """`name` (relative to the folder `root`, or absolute; '/' or '\\' separated) as a normalised path."""
    return os.path.normpath(os.path.join(root, name.replace("\\", "/")))


class MediaLookup:
    """Finds the media an annotation file names, and remembers the image root it found them under.

    References are relative to an image root. Given one (`images`), only that folder is searched
    (with `beside_file`, after the annotation file's own folder: labelme's convention); else the
    annotation file's folder and then up to PARENTS folders above it, nearest first (the folder
    where a name was first found is tried first from then on).
    """

    PARENTS = 3

    def __init__(self, images: Path | None = None, beside_file: bool = False) -> None:
        self.images = Path(images) if images else None
        self.beside_file = beside_file
        self.root: Path | None = self.images

    def folders(self, annotation_folder: Path) -> list[Path]:
        """The folders searched for a reference made in a file of `annotation_folder`, in order."""
        folder = Path(annotation_folder)
        if self.images is not None:
            return [folder, self.images] if self.beside_file else [self.images]
        folders = [folder, *list(folder.parents)[: self.PARENTS]]
        if self.root is not None and self.root in folders:
            folders.remove(self.root)
            folders.insert(0, self.root)
        return folders

    def find(self, ref: str, annotation_folder: Path) -> Path:
        """The media `ref` names: below the first folder where it exists, else below the first folder."""
        folders = self.folders(annotation_folder)
        for folder in folders:
            candidate = Path(resolve(folder, ref))
            if candidate.exists():
                if self.root is None:
                    self.root = folder
                return candidate
        return Path(resolve(folders[0], ref))

    def root_or(self, default: Path) -> str:
        """The image root: the given one, else the folder the first reference was found in, else `default`."""
        return str(self.root or default)
