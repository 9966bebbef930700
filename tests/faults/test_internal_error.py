"""An internal error exits 3 whether or not BALLOON_AUDIT_DEBUG shows its traceback."""

from __future__ import annotations

import pytest

from balloon_audit import cli


def _crash(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("a bug")


@pytest.mark.parametrize("debug", ["", "1"])
def test_internal_error_exits_3(
    debug: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BALLOON_AUDIT_DEBUG", debug)
    monkeypatch.setattr(cli, "app", _crash)
    with pytest.raises(SystemExit) as stopped:
        cli.run()
    assert stopped.value.code == 3
    stderr = capsys.readouterr().err
    if debug:
        assert "Traceback" in stderr and "ZeroDivisionError: a bug" in stderr
    else:
        assert "Traceback" not in stderr and "internal error: ZeroDivisionError" in stderr
