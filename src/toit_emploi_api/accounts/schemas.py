"""Request and response bodies for organisations, users and API clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, StringConstraints

from toit_emploi_api.core.schemas import InputModel, OutputModel
from toit_emploi_api.vocab.roles import OrganisationKind, Role

_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[
    str,
    Field(min_length=3, max_length=254, pattern=_EMAIL_PATTERN, examples=["chef.service@aurore.example"]),
    AfterValidator(_lower),
]
Password = Annotated[
    str,
    StringConstraints(strip_whitespace=False),  # spaces are part of a passphrase
    Field(min_length=12, max_length=128, description="12 to 128 characters; spaces are kept."),
]
OrgName = Annotated[str, Field(min_length=1, max_length=200, examples=["Association Charonne"])]
PersonName = Annotated[str, Field(min_length=1, max_length=200, examples=["Claire Martin"])]


class OrganisationCreate(InputModel):
    name: OrgName
    kind: OrganisationKind


class OrganisationUpdate(InputModel):
    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("name", "active")

    name: OrgName | None = None
    active: bool | None = None


class OrganisationOut(OutputModel):
    id: uuid.UUID
    name: str
    kind: OrganisationKind
    active: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(InputModel):
    email: Email
    full_name: PersonName
    role: Role
    organisation_id: uuid.UUID
    password: Password


class UserUpdate(InputModel):
    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("full_name", "role", "active", "password")

    full_name: PersonName | None = None
    role: Role | None = None
    active: bool | None = None
    password: Password | None = None


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    organisation_id: uuid.UUID
    active: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApiClientCreate(InputModel):
    name: OrgName = Field(examples=["Polygone vacancy sync"])
    role: Role
    organisation_id: uuid.UUID


class ApiClientUpdate(InputModel):
    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("name", "role", "active")

    name: OrgName | None = None
    role: Role | None = None
    active: bool | None = None


class ApiClientOut(OutputModel):
    id: uuid.UUID
    client_id: str
    name: str
    role: Role
    organisation_id: uuid.UUID
    active: bool
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApiClientWithSecret(ApiClientOut):
    client_secret: str = Field(description="Shown once, at creation or rotation; store it now.")


class OrganisationBrief(OutputModel):
    id: uuid.UUID
    name: str
    kind: OrganisationKind


class MeOut(OutputModel):
    kind: Literal["user", "client"]
    id: uuid.UUID
    role: Role
    organisation: OrganisationBrief
    email: str | None = None
    full_name: str | None = None
    client_id: str | None = None
    name: str | None = None


class OrganisationSort(StrEnum):
    """`sort` of the organisations list; `-` for descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    NAME = "name"
    NAME_DESC = "-name"


class UserSort(StrEnum):
    """`sort` of the users list; `-` for descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    FULL_NAME = "full_name"
    FULL_NAME_DESC = "-full_name"
    EMAIL = "email"
    EMAIL_DESC = "-email"


class ApiClientSort(StrEnum):
    """`sort` of the API clients list; `-` for descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    NAME = "name"
    NAME_DESC = "-name"
