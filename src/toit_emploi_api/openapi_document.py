"""The committed OpenAPI document: generated from the app, stable byte for byte."""

from __future__ import annotations

import json

from toit_emploi_api.core.settings import Settings


def render_openapi(settings: Settings) -> str:
    from toit_emploi_api.main import create_app

    app = create_app(settings)
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
