"""The README's configuration table lists every setting with its default and variable."""

from __future__ import annotations

from contacts_gateway.settings import Settings
from contacts_gateway.settings_doc import BEGIN, END, README, settings_table, with_table


def test_readme_table_matches_the_settings() -> None:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "the README lost its settings-table marks"
    assert with_table(text) == text, (
        "README.md's configuration table is out of date: run `python -m contacts_gateway.settings_doc`"
    )


def test_every_setting_has_a_row_and_a_description() -> None:
    table = settings_table()
    for name, field in Settings.model_fields.items():
        assert f"`CONTACTS_GATEWAY_{name.upper()}`" in table
        assert field.description, f"setting {name} has no description for the README"


def test_a_changed_default_is_detected() -> None:
    text = README.read_text(encoding="utf-8")
    stale = text.replace(
        "| `CONTACTS_GATEWAY_DB_POOL_SIZE` | `10` |", "| `CONTACTS_GATEWAY_DB_POOL_SIZE` | `11` |"
    )
    assert stale != text and with_table(stale) == text
