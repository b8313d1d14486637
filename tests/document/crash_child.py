"""Child process of the crash test: random edits on a project, acknowledging each on stdout."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from random_edits import perform

from annotator.document import Project


def main() -> None:
    """Usage: crash_child.py PROJECT SEED — runs until killed."""
    path, seed = sys.argv[1], int(sys.argv[2])
    project = Project.create(path)
    rng = random.Random(seed)
    count = 0
    while True:
        perform(project, rng, allow_history=True)
        count += 1
        sys.stdout.write(f"ack {count}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
