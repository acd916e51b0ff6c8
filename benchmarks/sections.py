"""Edit BENCHMARKS.md by section, so a run of one section keeps the others' figures.

A section starts at a line ``## ...`` and runs to the next such line. Sections are
matched by their number (``## 4.``) or, unnumbered, by their whole heading line.
"""

from __future__ import annotations

import re

__all__ = ["replace_lines", "replace_section"]

_NUMBER = re.compile(r"^## (\d+)\.")


def _split(document: str) -> list[str]:
    """Chunks: the preamble, then one chunk per ``## `` section (each keeps its text verbatim)."""
    chunks: list[str] = []
    current: list[str] = []
    for line in document.splitlines(keepends=True):
        if line.startswith("## ") and current:
            chunks.append("".join(current))
            current = []
        current.append(line)
    chunks.append("".join(current))
    return chunks


def _key(heading: str) -> str:
    match = _NUMBER.match(heading)
    return match.group(1) if match else heading.splitlines()[0].strip() if heading else ""


def replace_section(document: str, section: str, *, before: str = "## Targets") -> str:
    """``document`` with ``section`` in place of the section of the same number or heading.

    A section not there yet goes before the section headed ``before`` (or at the end).
    """
    text = section if section.endswith("\n") else section + "\n"
    text += "" if text.endswith("\n\n") else "\n"
    chunks = _split(document)
    key = _key(text)
    for index, chunk in enumerate(chunks):
        if chunk.startswith("## ") and _key(chunk) == key:
            chunks[index] = text
            return "".join(chunks)
    for index, chunk in enumerate(chunks):
        if chunk.startswith(before):
            chunks.insert(index, text)
            return "".join(chunks)
    tail = "" if not chunks[-1] or chunks[-1].endswith("\n\n") else "\n"
    return "".join(chunks) + tail + text


def replace_lines(document: str, heading: str, prefix: str, lines: list[str]) -> str:
    """In the section headed ``heading``, the lines starting with ``prefix`` replaced by ``lines``.

    The new lines go where the first old one was, or after the section's last list item.
    A document without that section is returned unchanged.
    """
    chunks = _split(document)
    for index, chunk in enumerate(chunks):
        if not chunk.startswith(heading):
            continue
        rows = chunk.splitlines()
        kept = [row for row in rows if not row.startswith(prefix)]
        old = [i for i, row in enumerate(rows) if row.startswith(prefix)]
        items = [i for i, row in enumerate(kept) if row.startswith("- ")]
        at = old[0] if old else (items[-1] + 1 if items else len(kept))
        rows = [*kept[:at], *lines, *kept[at:]]
        chunks[index] = "\n".join(rows) + ("\n" if chunk.endswith("\n") else "")
        return "".join(chunks)
    return document
