"""The README's configuration table, generated from :class:`Settings`.

``python -m contacts_gateway.settings_doc`` rewrites the table between the README's
``<!-- settings-table:begin -->`` and ``<!-- settings-table:end -->`` marks; ``--check``
exits 1 when the README is out of date (a test runs the same comparison).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from contacts_gateway.settings import Settings

BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def _default(value: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    """A Markdown table: environment variable, default, meaning — one row per setting."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    rows = ["| environment variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = (prefix + name).upper()
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{env}` | {_default(field.default)} | {description} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """``text`` (the README) with the table between the marks replaced by the current one."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README needs the marks {BEGIN} and {END}")
    return text[: start + len(BEGIN)] + "\n" + settings_table() + "\n" + text[end:]


def main(argv: list[str]) -> int:
    """Rewrite the README's table, or with ``--check`` report whether it is current."""
    text = README.read_text(encoding="utf-8")
    updated = with_table(text)
    if "--check" in argv:
        if updated != text:
            print(
                "README.md's configuration table is out of date:"
                " run `python -m contacts_gateway.settings_doc`",
                file=sys.stderr,
            )
            return 1
        return 0
    if updated != text:
        README.write_text(updated, encoding="utf-8")
        print("README.md: configuration table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
