from __future__ import annotations

import pytest

from uid2 import walkthrough


def test_walkthrough_round_trips_the_demo_email(capsys: pytest.CaptureFixture[str]) -> None:
    walkthrough.main()
    out = capsys.readouterr().out
    assert "normalises to 'janedoe@gmail.com'" in out
    assert "a DSP decrypts it: SUCCESS, same raw UID2: True" in out
    assert "shared as a token (SUCCESS), decrypted back: True" in out
