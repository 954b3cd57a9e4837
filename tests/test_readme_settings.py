"""README's settings table and the Settings fields name the same variables, with the same
defaults where the table gives one literally."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_core import PydanticUndefined

from gigline.settings import Settings, model_path_variable

README = Path(__file__).resolve().parent.parent / "README.md"


def _table() -> dict[str, str]:
    """Variable -> its default column, from the table under "## Settings"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in section.splitlines():
        if row.startswith("| `"):
            names, default = row.split(" | ")[:2]
            for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", names):
                table[name] = default
    return table


def test_every_setting_is_in_the_readme_table_and_every_variable_there_is_a_setting():
    variables = {field.alias for field in Settings.model_fields.values()}
    # The per-language models the table names as examples are the variables read for them.
    per_language = {model_path_variable("zh-CN"), model_path_variable("ko")}
    table = set(_table())
    assert table - variables - per_language == set(), "in README, not a setting"
    assert variables - table == set(), "a setting missing from README"
    assert per_language <= table


def test_a_default_the_readme_spells_out_is_the_settings_default():
    table = _table()
    checked = 0
    for field in Settings.model_fields.values():
        literal = re.fullmatch(r"`([^`]*)`", table[field.alias])
        if literal and field.default is not PydanticUndefined:
            assert literal[1] == str(field.default), field.alias
            checked += 1
    assert checked, "no default read from the table: check the parse"
