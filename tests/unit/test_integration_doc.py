"""The receiver code of docs/integration.md works on our messages."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from toit_emploi_api.integration.webhooks import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_documented_verifier_accepts_our_signature_and_nothing_else() -> None:
    block = next(b for b in _python_blocks() if "def verify(" in b)
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # our own documentation
    verify = namespace["verify"]
    secret, other = signing.new_secret(), signing.new_secret()
    body = '{"id":"evt_1","type":"household.created","data":{"stage":"diagnostic"}}'
    headers = signing.headers("msg_1", int(time.time()), body, [other, secret])  # as during a rotation
    assert verify(secret, headers, body.encode()) is True
    assert verify(other, headers, body.encode()) is True
    assert verify(signing.new_secret(), headers, body.encode()) is False
    assert verify(secret, headers, body.replace("diagnostic", "matching").encode()) is False
    stale = signing.headers("msg_1", int(time.time()) - 600, body, [secret])
    assert verify(secret, stale, body.encode()) is False


def test_the_documented_receiver_uses_the_library_api() -> None:
    block = next(b for b in _python_blocks() if "standardwebhooks" in b)
    assert "hook.verify(body, dict(self.headers))" in block
    from standardwebhooks.webhooks import Webhook

    secret = signing.new_secret()
    body = '{"type":"household.created"}'
    assert Webhook(secret).verify(body, signing.headers("msg_2", int(time.time()), body, [secret])) == {
        "type": "household.created"
    }
