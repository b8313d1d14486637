"""Entry point of the PyInstaller build: the `annotator` command, plus a hidden `--smoke-test`.

`dist/annotator/annotator --smoke-test` runs packaging/smoke.py inside the frozen app (it is
bundled as the module `smoke`), so the build is checked the way the installed wheel is.
"""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["--smoke-test"]:
        import smoke

        return smoke.main(sys.argv[2:])
    from annotator.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
