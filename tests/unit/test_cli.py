"""The CLI's own error handling: usage errors are one message and exit 2, never a traceback."""

from __future__ import annotations

import pytest

from orchestrator.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-command"], "No such command 'no-such-command'"),
        (["up"], "Missing argument 'lab_file'"),
        (["up", "lab.yml", "--no-such-option"], "No such option: --no-such-option"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    errors = capsys.readouterr().err
    assert message in errors and "Traceback" not in errors


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "orchestrate" in capsys.readouterr().out


def test_ctrl_c_exits_130_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import app

    @app.command("interrupt-me", hidden=True)
    def interrupt_me() -> None:
        raise KeyboardInterrupt

    assert main(["interrupt-me"]) == 130
    assert "error: interrupted" in capsys.readouterr().err
