"""Domain exceptions of the application's boundaries."""

from __future__ import annotations


class AnnotatorError(Exception):
    """Base of the errors that the CLI and GUI show to the user as a message."""


class ProjectError(AnnotatorError):
    """A project file cannot be opened, read or written; names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class FormatError(AnnotatorError):
    """An annotation file is not valid in its format; names the file, the element and the problem."""

    def __init__(self, path: object, element: str, problem: str) -> None:
        self.path = str(path)
        self.element = element
        self.problem = problem
        where = f" at {element}" if element else ""
        super().__init__(f"{self.path}{where}: {problem}")


class MediaError(AnnotatorError):
    """An image or video cannot be read; names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
