"""The product's words, rendered from `prompts/` (compiled once, rendered per use)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from receptionist.settings import PROMPTS_DIR


class Templates:
    def __init__(self, directory: Path = PROMPTS_DIR):
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,  # plain text for phones and email, never HTML
        )

    def render(self, name: str, **values) -> str:
        return self.env.get_template(name).render(**values).strip()
