"""The receptionist's own words, one Jinja2 macro each in `prompts/receptionist_lines.txt`."""

from __future__ import annotations

from collections.abc import Iterable

from receptionist.core.templates import Templates

LINES_TEMPLATE = "receptionist_lines.txt"


def spoken_list(items: Iterable[str], conjunction: str = "and") -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


class Lines:
    def __init__(self, templates: Templates):
        self.module = templates.env.get_template(LINES_TEMPLATE).module

    def __call__(self, line: str, /, **values) -> str:
        """One line, whitespace collapsed (the template's layout is for reviewers, not for speech)."""
        return " ".join(str(getattr(self.module, line)(**values)).split())
