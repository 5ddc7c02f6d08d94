"""The receptionist's own words, one Jinja2 macro each in `prompts/receptionist_lines.txt`
(and what its tools tell the model, in `prompts/tool_results.txt`)."""

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


TOOL_RESULTS_TEMPLATE = "tool_results.txt"


class Lines:
    """The receptionist's lines: `lines("goodbye", business_name=…)`."""

    def __init__(self, templates: Templates):
        self._macros = templates.macros(LINES_TEMPLATE)

    @classmethod
    def packaged(cls) -> Lines:
        return cls(Templates.packaged())

    def __call__(self, line: str, /, **values) -> str:
        return self._macros(line, **values)
