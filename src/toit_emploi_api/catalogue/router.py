"""HTTP endpoints of the reference data: the ROME codes the API knows ([employers.md](employers.md#rome-codes)) and
the communes of the Cantal and its neighbouring departments ([matching.md](matching.md#communes))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.catalogue import service
from toit_emploi_api.catalogue.schemas import CommuneOut, CommuneSort, RomeCodeOut, RomeCodeSort, VocabularyItem
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import Page, PageDep, SortQuery, search_query
from toit_emploi_api.vocab import labels
from toit_emploi_api.vocab.roles import Role

Vocabularies = dict[str, list[VocabularyItem]]

router = APIRouter(prefix="/api/v1", tags=["reference"])

# Everyone who works on households or job openings; landlords and funders have no use for it.
ReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))]
# Communes: the same callers, and landlords (their units' communes).
CommuneReaderDep = Annotated[
    Principal,
    Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.LANDLORD)),
]


@router.get("/rome-codes", summary="Search ROME codes")
async def rome_codes_list(
    _: ReaderDep,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        search_query(
            "Words of the label (case and accents ignored: `maconnerie` finds `Maçonnerie`) or the start of a code "
            "(`F17`).",
            "maconnerie",
        ),
    ] = None,
    sort: Annotated[RomeCodeSort, SortQuery] = RomeCodeSort.CODE,
) -> Page[RomeCodeOut]:
    """The ROME codes (France Travail's job codes) the API knows, ordered by code unless `sort` says otherwise
    (`code`, `label`; `-` for descending) (admin, service manager, Paris referent, partner workers; landlords and
    funders get 403).

    `q` matches words of the label ignoring case and accents (`maconnerie` finds `Maçonnerie`) or the start of a
    code (`F17`, `k13`); without `q`, every code. Paginated with `limit` and `offset`. The list is the reference
    file loaded by a migration; profiles and job openings also accept well-formed codes it does not hold."""
    return (await service.list_rome_codes(session, q, page, sort.value)).to(RomeCodeOut.model_validate)


@router.get("/rome-codes/{code}", summary="Read a ROME code", responses=problem_responses(NOT_FOUND))
async def rome_codes_get(
    _: ReaderDep,
    session: SessionDep,
    code: Annotated[str, Path(min_length=5, max_length=5, pattern="^[A-Na-n][0-9]{4}$", examples=["F1703"])],
) -> RomeCodeOut:
    """One ROME code (any case) and its French label (same callers as the search); 404 when the API does not know
    the code (a well-formed code is still accepted in profiles and job openings)."""
    return RomeCodeOut.model_validate(await service.get_rome_code(session, code))


@router.get("/communes", summary="Search communes")
async def communes_list(
    _: CommuneReaderDep,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        search_query(
            "Words starting words of the name (case, accents, hyphens and apostrophes ignored: `saint flour` finds "
            "`Saint-Flour`), the start of an INSEE code (`150`) or a postcode (`15000`).",
            "aurillac",
        ),
    ] = None,
    department: Annotated[
        str | None,
        Query(
            pattern="^(?:[0-9]{2,3}|2[ABab])$",
            description="Department code (`15`); a department the reference does not cover gives an empty list.",
            examples=["15"],
        ),
    ] = None,
    sort: Annotated[CommuneSort | None, SortQuery] = None,
) -> Page[CommuneOut]:
    """The communes of the Cantal (15) and its neighbouring departments (12, 19, 43, 46, 48, 63), from INSEE's
    Code officiel géographique and La Poste's postcodes (Licence Ouverte / Etalab 2.0; see docs/matching.md).

    **Who:** admin, service manager, Paris referent, partner workers and landlords; funders get 403.

    `q` matches communes each of whose words of `q` starts a word of the name (case, accents, hyphens and
    apostrophes ignored), or whose INSEE code starts with `q`, or one of whose postcodes is `q`; `department`
    keeps one department. Order: the exact name first, then the most populous, then by INSEE code; `sort`
    (`name`, `population`, `insee_code`; `-` for descending) orders by one key instead. Paginated
    with `limit` and `offset`. Coordinates are the commune's (WGS 84), as decimal strings."""
    return (await service.list_communes(session, q, department, page, None if sort is None else sort.value)).to(
        CommuneOut.model_validate
    )


@router.get("/communes/{insee_code}", summary="Read a commune", responses=problem_responses(NOT_FOUND))
async def communes_get(
    _: CommuneReaderDep,
    session: SessionDep,
    insee_code: Annotated[
        str, Path(min_length=5, max_length=5, pattern="^(?:[0-9]{5}|2[ABab][0-9]{3})$", examples=["15014"])
    ],
) -> CommuneOut:
    """One commune by its INSEE code (same callers as the search): name, department, postcodes, coordinates,
    population. 404 when the reference does not hold it (it covers the Cantal and its neighbouring departments
    only; other well-formed codes are still accepted on employers and housing units)."""
    return CommuneOut.model_validate(await service.get_commune(session, insee_code))


AnyRoleDep = Annotated[
    Principal,
    Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.LANDLORD, Role.FUNDER)),
]


@router.get("/vocabularies", summary="French labels of every enumerated value")
async def vocabularies_list(_: AnyRoleDep, response: Response) -> Vocabularies:
    """Every vocabulary of the API (stages, withdrawal reasons, roles, statuses, levels…) with the French label of
    each value, for a frontend's lists and badges: `{"Stage": [{"code": "relay_stay", "label": "Séjour en
    appartement relais"}, …], …}`. The same labels are in the OpenAPI document as `x-enum-descriptions`. Any
    authenticated caller; the answer is the same for everyone (cacheable for an hour)."""
    response.headers["Cache-Control"] = "private, max-age=3600"
    return {
        name: [VocabularyItem(code=code, label=text) for code, text in values.items()]
        for name, values in labels.LABELS.items()
    }
