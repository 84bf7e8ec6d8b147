"""Output helpers and the command table, without a server."""

import importlib
import json

import click
from click.testing import CliRunner

from torc.cli.main import COMMANDS, cli
from torc.cli.output import MAX_CELL_WIDTH, columns, emit_records, format_cell, progress_step, render_fields, render_table


def test_table_columns_are_aligned_and_numbers_right_aligned():
    rows = [{"id": 7, "name": "a", "note": None}, {"id": 1234, "name": "longer name", "note": {"k": [1, 2]}}]
    text = render_table(rows, columns("id", "name", ("remark", "note")))
    assert text.splitlines() == [
        "  id  name         remark",
        "----  -----------  -----------",
        "   7  a",
        "1234  longer name  {\"k\":[1,2]}",
    ]


def test_cells_are_one_shortened_line():
    assert format_cell("x" * 100) == "x" * (MAX_CELL_WIDTH - 1) + "…"
    assert format_cell("two\nlines") == "two lines"
    assert format_cell([1, 2, 3]) == "1,2,3" and format_cell(True) == "true" and format_cell(None) == ""
    assert render_fields({"description": "y" * 100}).endswith("y" * 100), "single records are not cut"


def test_json_output_is_the_full_records(capsys):
    emit_records("json", [{"id": 1, "data": None}], columns("id"))
    assert json.loads(capsys.readouterr().out) == [{"id": 1, "data": None}]
    emit_records("table", [], columns("id"))
    assert capsys.readouterr().out == "(none)\n"


def test_progress_is_silent_unless_enabled(capsys):
    with progress_step("Quiet step", enabled=False):
        pass
    assert capsys.readouterr().err == ""
    with progress_step("Loud step", enabled=True):
        pass
    assert capsys.readouterr().err.startswith("Loud step ...")


def test_every_registered_command_imports_and_shows_in_help():
    for name, target in COMMANDS.items():
        module, attribute = target.split(":")
        assert isinstance(getattr(importlib.import_module(module), attribute), click.Command), name
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout
