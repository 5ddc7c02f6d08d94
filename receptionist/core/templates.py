"""The product's words: the text files of the `prompts` package, compiled once, rendered per use.

Every sentence the product says to a caller, an owner or a model is a file (or a macro in a file)
of `prompts/`, installed with the product as package data and read through `importlib.resources`,
so an installed wheel speaks exactly as a source checkout does.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from jinja2 import (
    Environment,
    FunctionLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

PACKAGE = "prompts"


def _load(name: str):
    resource = files(PACKAGE).joinpath(name)
    if not resource.is_file():
        raise TemplateNotFound(name)
    return resource.read_text(encoding="utf-8"), None, lambda: True


class Macros:
    """The macros of one template file, called by name: `lines("goodbye", business_name=…)`."""

    def __init__(self, module):
        self.module = module

    def __call__(self, name: str, /, **values) -> str:
        """One macro's text, whitespace collapsed (the file's layout is for reviewers, not for speech)."""
        return " ".join(str(getattr(self.module, name)(**values)).split())


class Templates:
    def __init__(self):
        self.env = Environment(
            loader=FunctionLoader(_load),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            # Plain text for phones, email and models; the one HTML file (the email's HTML part) is escaped.
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        )
        self._macros: dict[str, Macros] = {}
        self._data: dict[str, object] = {}

    @classmethod
    @cache
    def packaged(cls) -> Templates:
        """One shared set, for code given no `Templates` of its own (the words are read-only data)."""
        return cls()

    def render(self, name: str, **values) -> str:
        return self.env.get_template(name).render(**values).strip()

    def macros(self, name: str) -> Macros:
        if name not in self._macros:
            self._macros[name] = Macros(self.env.get_template(name).module)
        return self._macros[name]

    def data(self, name: str):
        """A JSON file of words (the tools' descriptions as the model sees them), parsed once."""
        if name not in self._data:
            self._data[name] = json.loads(files(PACKAGE).joinpath(name).read_text(encoding="utf-8"))
        return self._data[name]
