"""``python -m initconv``'s conventions: ``--help`` on stdout with exit 0 for every command, each
with its one-line description; an unknown command named with a suggestion; every error one line
``error: ...`` on stderr with exit 2, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from initconv import __main__ as cli
from initconv import __version__
from initconv._cli import COMMANDS


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_error_line(code: int, out: str, err: str, *fragments: str) -> None:
    assert (code, out) == (2, "")
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_prints_its_help_and_its_one_line_description_to_stdout(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run([command, "--help"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: python -m initconv {command}")
    summary = COMMANDS[command][1]
    assert f"{summary[0].upper()}{summary[1:]}." in out


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_the_top_level_help_lists_every_command_with_its_description_on_stdout(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run([flag], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("usage: python -m initconv COMMAND")
    for name, (_, summary) in COMMANDS.items():
        assert f"  {name}" in out
        assert summary in out


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--version"], capsys) == (0, f"initconv {__version__}\n", "")


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([], ["a command is required", "demo, convert, gains, schemes"]),
        (["demoo"], ["unknown command 'demoo'; did you mean 'demo'?"]),
        (["Convert"], ["unknown command 'Convert'; did you mean 'convert'?"]),
        (["--quick"], ["unknown option '--quick'"]),
        (["gains", "extra"], ["unrecognized argument 'extra'", "python -m initconv gains --help"]),
        (["schemes", "--markdown"], ["unrecognized argument '--markdown'"]),
        (["demo", "--stpes", "3"], ["unrecognized argument '--stpes'; did you mean '--steps'?"]),
        (["demo", "--steps", "0"], ["--steps must be a positive integer, got '0'"]),
        (["demo", "--depth", "x"], ["--depth must be a positive integer, got 'x'"]),
        (["demo", "--lr", "-1"], ["--lr must be a positive number, got -1.0"]),
        (["demo", "--activation", "tahn"], ["got 'tahn'; did you mean 'tanh'?"]),
        (["demo", "--out", "no/such/folder/x.png"], ["the folder", "does not exist"]),
        (["convert"], ["the following arguments are required: MODULE:FACTORY"]),
        (["convert", "torch.nn:Conv2d", "--scheme", "he"], ["did you mean 'he_normal'?"]),
        (["convert", "torch.nn"], ["MODULE:FACTORY must name a module and a callable"]),
        (["convert", "no_such_module_here:f"], ["cannot import 'no_such_module_here'"]),
        (["convert", "torch.nn:Conv2", "--scheme", "zero"], ["did you mean 'Conv2d'?"]),
        (["convert", "torch.nn:Conv2d"], ["torch.nn:Conv2d() raised TypeError:"]),
    ],
)
def test_every_error_is_one_line_on_stderr_with_exit_code_2(
    argv: list[str], fragments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _assert_one_error_line(*_run(argv, capsys), *fragments)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("1 / 0\n", "importing 'raises_on_import' raised ZeroDivisionError: division by zero"),
        ("import sys\nsys.exit(3)\n", "importing 'raises_on_import' raised SystemExit: 3"),
        ("def (:\n", "importing 'raises_on_import' raised SyntaxError"),
        (
            "def build():\n    raise RuntimeError('first line\\nframe #0: C++ frames')\n",
            "raises_on_import:build() raised RuntimeError: first line",
        ),
    ],
)
def test_a_users_module_that_raises_is_one_error_line_not_a_traceback(
    body: str,
    fragment: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "raises_on_import.py").write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "raises_on_import", raising=False)
    _assert_one_error_line(*_run(["convert", "raises_on_import:build"], capsys), fragment)


@pytest.mark.parametrize(
    "shape", ["100000,100000,100000,100000", "99999999999999999999", "1,3,0,4", "1,x"]
)
def test_an_input_shape_that_cannot_be_built_is_refused_before_any_work(
    shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["convert", "torch.nn:Conv2d", "--input-shape", shape]
    _assert_one_error_line(*_run(argv, capsys), "--input-shape")


def test_an_unexpected_failure_inside_a_command_is_still_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from initconv._cli import gains

    def broken(argv: list[str]) -> int:
        raise RuntimeError("out of luck\n  frame #0: somewhere in C++")

    monkeypatch.setattr(gains, "main", broken)
    _assert_one_error_line(
        *_run(["gains"], capsys), "python -m initconv gains failed: RuntimeError: out of luck"
    )
