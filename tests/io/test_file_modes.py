"""Exported files get the permissions a plain open() gives them: the umask's, or the replaced file's."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator.document.project import Project
from annotator.io.common import write_bytes_atomic
from annotator.io.formats import FormatOptions, export_project

pytestmark = pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")


@pytest.fixture
def umask() -> Iterator[None]:
    """Run the test under umask 027 (group may read, others nothing), restored afterwards."""
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_follows_the_umask(tmp_path: Path, umask: None) -> None:
    path = tmp_path / "out" / "a.json"
    write_bytes_atomic(path, b"{}")
    assert _mode(path) == 0o640
    os.umask(0o002)
    write_bytes_atomic(tmp_path / "b.json", b"{}")
    assert _mode(tmp_path / "b.json") == 0o664


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"old")
    path.chmod(0o604)
    write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o604


@pytest.mark.parametrize("fmt", ["coco", "labelme", "rle", "yolo", "mot"])
def test_every_exported_file_follows_the_umask(sample_project: Project, tmp_path: Path, umask: None, fmt: str) -> None:
    out = tmp_path / ("export.json" if fmt in ("coco", "rle") else "export")
    export_project(sample_project, out, fmt, FormatOptions(unlabelled="object"))
    files = [out] if out.is_file() else [p for p in out.rglob("*") if p.is_file()]
    if fmt == "yolo":  # the dataset's images are hard links to the user's own files: their mode is theirs
        linked = [p for p in files if "images" in p.relative_to(out).parts]
        assert linked and all(p.stat().st_nlink > 1 for p in linked)
        files = [p for p in files if p not in linked]
    assert files
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(0o640) for p in files}
