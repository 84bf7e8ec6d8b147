"""Output helpers and the command table, without a server."""

import importlib
import json
import re

import click
import pytest
from click.testing import CliRunner

from torc.cli.main import COMMANDS, cli
from torc.cli.output import MAX_CELL_WIDTH, TerminalProgress, columns, emit_records, format_cell, render_fields, render_table


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
    quiet = TerminalProgress(enabled=False)
    with quiet.running():
        quiet.update("expanding jobs", 5, 10)
    with quiet.step("Quiet step"):
        pass
    assert capsys.readouterr().err == ""
    loud = TerminalProgress(enabled=True)
    with loud.step("Loud step"):
        pass
    assert re.fullmatch(r"Loud step \.\.\.(\rLoud step \.\.\. [0-9.]+ s)*\rLoud step \.\.\. [0-9.]+ s\n", capsys.readouterr().err)


def test_a_failed_step_ends_its_line_with_failed(capsys):
    progress = TerminalProgress(enabled=True)
    with pytest.raises(RuntimeError), progress.step("Doomed step"):
        raise RuntimeError("boom")
    assert capsys.readouterr().err.endswith("Doomed step ... failed\n")


def test_every_registered_command_imports_and_shows_in_help():
    for name, target in COMMANDS.items():
        module, attribute = target.split(":")
        assert isinstance(getattr(importlib.import_module(module), attribute), click.Command), name
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout
