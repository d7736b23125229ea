"""HTTP endpoints of the reference domain: the ROME codes the API knows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.catalogue.schemas import RomeCodeOut
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import NotFoundError, error_responses
from toit_emploi_api.core.resources import Page, PageDep
from toit_emploi_api.reference import repository
from toit_emploi_api.reference.codes import normalise_rome_code
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1", tags=["reference"])

# Everyone who works on households or job openings; landlords and funders have no use for it.
ReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))]


@router.get(
    "/rome-codes",
    summary="Search the ROME codes the API knows (by label, ignoring case and accents, or by code prefix)",
    response_model=Page[RomeCodeOut],
)
async def rome_codes_list(
    _: ReaderDep,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Words of the label (case and accents ignored: `maconnerie` finds `Maçonnerie`) "
            "or the start of a code (`F17`).",
            examples=["maconnerie"],
        ),
    ] = None,
) -> Page[RomeCodeOut]:
    rows, total = await repository.list_rome_codes(session, q, page.limit, page.offset)
    return Page(items=[RomeCodeOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.get(
    "/rome-codes/{code}",
    summary="One ROME code and its label",
    response_model=RomeCodeOut,
    responses=error_responses(404),
)
async def rome_codes_get(
    _: ReaderDep,
    session: SessionDep,
    code: Annotated[str, Path(min_length=5, max_length=5, pattern="^[A-Na-n][0-9]{4}$", examples=["F1703"])],
) -> RomeCodeOut:
    row = await repository.get_rome_code(session, normalise_rome_code(code))
    if row is None:
        raise NotFoundError("The API does not know this ROME code (well-formed codes are still accepted elsewhere).")
    return RomeCodeOut.model_validate(row)
