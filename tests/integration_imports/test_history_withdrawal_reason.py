"""The history import takes the withdrawal reason as free text (`motif`): the pipeline's own guard
`withdrawal_reason_invalid` is what refuses an unknown one (the HTTP move takes an enum and never reaches it)."""

from __future__ import annotations

from datetime import date

from httpx import AsyncClient

from tests.factories import Actor
from tests.integration_imports.test_history_import import lines, post, withdrawn


async def test_an_unknown_withdrawal_reason_is_refused_by_the_pipeline_guard(client: AsyncClient, admin: Actor) -> None:
    body = withdrawn("2018-01", date(2018, 1, 8), 40, retained=False)
    body["moves"][-1]["reason"] = "bored"
    r = await post(client, admin, lines(body), dry_run="true")
    assert r.status_code == 422, r.text
    [error] = r.json()["row_errors"]
    assert error["field"] == "moves.0.to"
    assert error["message"].endswith("refused: guard_failed (withdrawal_reason_invalid)"), error
