"""ETag / If-Match for optimistic concurrency: reads return an ETag, updates require a matching If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from toit_emploi_api.core.errors import PreconditionFailedError, PreconditionRequiredError


def etag_for(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The ETag from your last read. Required: 428 without it, 412 when stale.",
    ),
]


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Raise 428 when the header is missing, 412 when it does not match the current version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequiredError(
            "This update requires an If-Match header carrying the ETag from your last read."
        )
    # Our ETags are exact row versions. A W/ prefix is accepted because proxies that compress responses (nginx
    # gzip) turn strong ETags into weak ones; refusing them would make every update through such a proxy a 412.
    # "*" means "whatever the current version".
    candidates = {c.strip().removeprefix("W/") for c in if_match.split(",")}
    if "*" in candidates or etag_for(current_version) in candidates:
        return
    raise PreconditionFailedError(
        "The resource was changed since you read it; read it again and reapply your change.",
        extra={"current_etag": etag_for(current_version)},
    )
