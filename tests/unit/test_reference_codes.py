"""Unit tests for toit_emploi_api.reference.codes and toit_emploi_api.reference.text."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from tests.factories import AURORE_SIRET, luhn_valid
from toit_emploi_api.reference.codes import (
    LA_POSTE_SIREN,
    ROME_CODES,
    InseeCommuneCode,
    PostCode,
    RomeCode,
    Siret,
    is_valid_insee_commune,
    is_valid_postcode,
    is_valid_rome_code,
    is_valid_siret,
    load_rome_codes,
    normalise_insee_commune,
    normalise_postcode,
    normalise_rome_code,
    normalise_siret,
    rome_label,
)
from toit_emploi_api.reference.text import (
    BoundedText,
    LongText,
    Name,
    NoteText,
    ShortText,
    bounded_text,
    fold,
    reject_control_characters,
    reject_nul,
)

LA_POSTE_HEAD_OFFICE = "35600000000048"  # Luhn-valid, digit sum 26: accepted as the documented exception
LA_POSTE_VALID = "35600000000001"  # digit sum 15 (multiple of 5), Luhn-invalid: valid for La Poste
LA_POSTE_INVALID = "35600000000014"  # Luhn-valid but digit sum 19: invalid for La Poste


def _messages(exc: ValidationError) -> list[str]:
    return [str(err["msg"]) for err in exc.errors()]


# ------------------------------------------------------------------------------------------------- SIRET


def test_test_vectors_are_what_they_claim() -> None:
    assert luhn_valid(AURORE_SIRET)
    assert luhn_valid(LA_POSTE_HEAD_OFFICE)
    assert sum(map(int, LA_POSTE_HEAD_OFFICE)) % 5 != 0
    assert not luhn_valid(LA_POSTE_VALID)
    assert sum(map(int, LA_POSTE_VALID)) % 5 == 0
    assert luhn_valid(LA_POSTE_INVALID)
    assert sum(map(int, LA_POSTE_INVALID)) % 5 != 0
    assert LA_POSTE_SIREN == "356000000"


def test_siret_aurore_valid() -> None:
    assert is_valid_siret(AURORE_SIRET)


def test_normalise_siret_removes_spaces() -> None:
    assert normalise_siret("775 684 970 00244") == AURORE_SIRET
    assert normalise_siret(" 775\u00a0684\u202f970\t00244 ") == AURORE_SIRET
    assert is_valid_siret(normalise_siret("775 684 970 00244"))
    assert not is_valid_siret("775 684 970 00244")  # the predicate takes the canonical form only


@pytest.mark.parametrize("last", "0135678 9")
def test_siret_wrong_checksum(last: str) -> None:
    value = AURORE_SIRET[:-1] + last
    assert is_valid_siret(value) is (value == AURORE_SIRET)


def test_siret_transposition_detected() -> None:
    assert not is_valid_siret("77568497000424")


def test_siret_la_poste() -> None:
    assert is_valid_siret(LA_POSTE_VALID)
    assert is_valid_siret(LA_POSTE_HEAD_OFFICE)
    assert is_valid_siret("35600000049837")  # digit sum 45
    assert not is_valid_siret(LA_POSTE_INVALID)  # Luhn is not applied to La Poste
    assert not is_valid_siret("35600000000002")


def test_siret_la_poste_rule_only_for_la_poste_siren() -> None:
    # Same digit-sum property on another SIREN does not bypass Luhn.
    value = "35600000100000"  # SIREN 356000001, digit sum 15, Luhn-invalid
    assert not luhn_valid(value)
    assert not is_valid_siret(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "7756849700024",
        "775684970002440",
        "7756849700024A",
        "abcdefghijklmn",
        "775684970 0244",
        "77568497000244\n",
        "\n77568497000244",
        "7756849700024\x00",
        "77568497000244\x00",
        "\x00" * 14,
        "７７５６８４９７０００２４４",  # full-width digits
        "٧٧٥٦٨٤٩٧٠٠٠٢٤٤",  # Arabic-Indic digits
        "+7568497000244",
        "-7568497000244",
    ],
)
def test_siret_invalid_forms(value: str) -> None:
    assert not is_valid_siret(value)


def test_siret_all_zeros_is_luhn_valid() -> None:
    # Documented behaviour: the rule is purely syntactic, existence is not checked.
    assert is_valid_siret("00000000000000")


def test_siret_predicate_is_total_on_non_strings() -> None:
    assert not is_valid_siret(77568497000244)  # type: ignore[arg-type]
    assert not is_valid_siret(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- INSEE commune


@pytest.mark.parametrize("value", ["15014", "2A004", "2B033", "97411", "75056", "01001", "97611", "98735"])
def test_insee_valid(value: str) -> None:
    assert is_valid_insee_commune(value)


@pytest.mark.parametrize(
    "value",
    [
        "2C001",
        "1501",
        "150140",
        "20000",
        "20004",
        "ab123",
        "2a004",  # canonical form is uppercase; normalise first
        "00000",
        "00123",
        "",
        "15014\n",
        " 15014",
        "1501\x00",
        "15014\x00",
        "2A04",
        "2A0044",
        "2AB04",
        "１５０１４",
    ],
)
def test_insee_invalid(value: str) -> None:
    assert not is_valid_insee_commune(value)


def test_normalise_insee() -> None:
    assert normalise_insee_commune(" 2a004 ") == "2A004"
    assert normalise_insee_commune("15014") == "15014"


# ------------------------------------------------------------------------------------------------- ROME


@pytest.mark.parametrize("value", ["F1703", "A1101", "N4105", "K2204"])
def test_rome_valid(value: str) -> None:
    assert is_valid_rome_code(value)


@pytest.mark.parametrize(
    "value", ["F170", "11703", "Z1234", "O1234", "f1703", "F17033", "FF703", "", " F1703", "F1703\x00"]
)
def test_rome_invalid(value: str) -> None:
    assert not is_valid_rome_code(value)


def test_normalise_rome() -> None:
    assert normalise_rome_code("f1703") == "F1703"
    assert normalise_rome_code("  f1703\n") == "F1703"
    assert is_valid_rome_code(normalise_rome_code("f1703"))


# ---------------------------------------------------------------------------------------------- postcode


@pytest.mark.parametrize("value", ["15000", "75011", "97400", "20000"])
def test_postcode_valid(value: str) -> None:
    assert is_valid_postcode(value)


@pytest.mark.parametrize("value", ["1500", "150000", "15 000", "1500A", "", "15000\n", "1500\x00", "１５０００"])
def test_postcode_invalid(value: str) -> None:
    assert not is_valid_postcode(value)


def test_normalise_postcode() -> None:
    assert normalise_postcode(" 15 000 ") == "15000"


# ---------------------------------------------------------------------------------------- ROME labels


def test_rome_label() -> None:
    assert rome_label("F1703") == "Maçonnerie"
    assert rome_label(" f1703 ") == "Maçonnerie"
    assert rome_label("G1801") == "Café, bar brasserie"
    assert rome_label("F1602") == "Électricité bâtiment"
    assert rome_label("A1101") is None  # well-formed but not one of the programme's trades
    assert rome_label("nonsense") is None
    assert rome_label("F1703\x00") is None


def test_rome_codes_mapping() -> None:
    assert len(ROME_CODES) == 27
    assert all(is_valid_rome_code(code) for code in ROME_CODES)
    assert ROME_CODES["I1203"] == "Maintenance des bâtiments et des locaux"
    assert load_rome_codes() is load_rome_codes()
    with pytest.raises(TypeError):
        ROME_CODES["X0000"] = "nope"  # type: ignore[index]


def test_rome_csv_file_format() -> None:
    raw = resources.files("toit_emploi_api.reference").joinpath("rome_codes.csv").read_bytes()
    text = raw.decode("utf-8")
    assert not text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["code", "label"]
    assert [(row[0], row[1]) for row in rows[1:]] == list(ROME_CODES.items())
    assert len(rows) - 1 == len(ROME_CODES)  # no duplicates


# ------------------------------------------------------------------------------------- pydantic types


class Employer(BaseModel):
    siret: Siret
    commune: InseeCommuneCode
    postcode: PostCode
    rome: RomeCode


VALID: dict[str, Any] = {"siret": AURORE_SIRET, "commune": "15014", "postcode": "15000", "rome": "F1703"}


def _error_for(field: str, value: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Employer.model_validate({**VALID, field: value})
    errors = info.value.errors()
    assert {err["loc"] for err in errors} == {(field,)}
    return _messages(info.value)


def test_model_accepts_and_normalises() -> None:
    employer = Employer.model_validate(
        {"siret": "775 684 970 00244", "commune": "2a004", "postcode": "15 000", "rome": " f1703 "}
    )
    assert employer.siret == AURORE_SIRET
    assert employer.commune == "2A004"
    assert employer.postcode == "15000"
    assert employer.rome == "F1703"
    assert employer.model_dump() == {**VALID, "commune": "2A004"}


def test_model_json_round_trip() -> None:
    employer = Employer.model_validate_json(
        '{"siret": "775 684 970 00244", "commune": "97411", "postcode": "97400", "rome": "k2204"}'
    )
    assert Employer.model_validate_json(employer.model_dump_json()) == employer


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("siret", "7756849700024", "SIRET must be 14 digits"),
        ("siret", "7756849700024A", "SIRET must be 14 digits"),
        ("siret", "77568497000245", "SIRET checksum (Luhn) is invalid"),
        ("siret", LA_POSTE_INVALID, "multiple of 5"),
        ("siret", "77568497000244\x00", "must not contain NUL characters"),
        ("commune", "2C001", "2A/2B followed by 3 digits"),
        ("commune", "1501", "must be 5 characters"),
        ("commune", "20000", "obsolete"),
        ("commune", "00100", "department 00"),
        ("commune", "15014\x00", "must not contain NUL characters"),
        ("postcode", "1500", "postcode must be 5 digits"),
        ("postcode", "\x00", "must not contain NUL characters"),
        ("rome", "Z1234", "ROME code must be one uppercase letter A-N followed by 4 digits"),
        ("rome", "F170", "ROME code must be"),
        ("rome", "F1703\x00", "must not contain NUL characters"),
    ],
)
def test_model_error_messages(field: str, value: str, message: str) -> None:
    messages = _error_for(field, value)
    assert len(messages) == 1
    assert messages[0].startswith("Value error, ")
    assert message in messages[0]


@pytest.mark.parametrize("field", ["siret", "commune", "postcode", "rome"])
@pytest.mark.parametrize("value", [None, 77568497000244, 15014, ["F1703"], {"a": 1}])
def test_model_rejects_non_strings(field: str, value: Any) -> None:
    messages = _error_for(field, value)
    assert messages == ["Input should be a valid string"]


def test_valid_la_poste_in_model() -> None:
    assert Employer.model_validate({**VALID, "siret": LA_POSTE_VALID}).siret == LA_POSTE_VALID
    assert Employer.model_validate({**VALID, "siret": LA_POSTE_HEAD_OFFICE}).siret == LA_POSTE_HEAD_OFFICE


@pytest.mark.parametrize(
    ("annotation", "pattern", "example"),
    [
        (Siret, "^[0-9]{14}$", AURORE_SIRET),
        (InseeCommuneCode, "^(?:[0-9]{5}|2[AB][0-9]{3})$", "15014"),
        (RomeCode, "^[A-N][0-9]{4}$", "F1703"),
        (PostCode, "^[0-9]{5}$", "15000"),
    ],
)
def test_code_json_schema(annotation: Any, pattern: str, example: str) -> None:
    for mode in ("validation", "serialization"):
        schema = TypeAdapter(annotation).json_schema(mode=mode)
        assert schema["type"] == "string"
        assert schema["pattern"] == pattern
        assert example in schema["examples"]
        assert schema["description"]


def test_model_json_schema_carries_patterns() -> None:
    props = Employer.model_json_schema()["properties"]
    assert props["siret"]["pattern"] == "^[0-9]{14}$"
    assert props["commune"]["examples"] == ["15014", "2A004"]
    assert props["rome"]["pattern"] == "^[A-N][0-9]{4}$"


def test_code_types_in_containers() -> None:
    adapter: TypeAdapter[list[RomeCode]] = TypeAdapter(list[RomeCode])
    assert adapter.validate_python(["f1703", "K2204"]) == ["F1703", "K2204"]
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(["F1703", "bad"])
    assert info.value.errors()[0]["loc"] == (1,)
    assert adapter.json_schema()["items"]["pattern"] == "^[A-N][0-9]{4}$"


# ------------------------------------------------------------------------------------------------ fold


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Benoît", "benoit"),
        ("ÉLODIE", "elodie"),
        ("Jean-Pierre", "jean pierre"),
        ("jean pierre", "jean pierre"),
        ("  Jean   -  Pierre  ", "jean pierre"),
        ("N'Diaye", "n diaye"),
        ("d’Artagnan", "d artagnan"),
        ("Marie\u2013Hélène", "marie helene"),
        ("François", "francois"),
        ("Cœur", "coeur"),
        ("ŒUVRE", "oeuvre"),
        ("Lætitia", "laetitia"),
        ("Straße", "strasse"),
        ("Zoë Ñúñez", "zoe nunez"),
        ("e\u0301le\u0300ve", "eleve"),  # already decomposed
        ("ﬁlle", "fille"),  # compatibility ligature (NFKD)
        ("Ａｕｒｏｒｅ", "aurore"),  # full-width (NFKD)
        ("a\u00a0b\tc\nd", "a b c d"),
        ("İstanbul", "istanbul"),
        ("", ""),
        ("   ", ""),
        ("--", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_equivalences() -> None:
    assert fold("Jean-Pierre") == fold("jean pierre") == fold("JEAN PIERRE") == fold("Jéan–Pierre")
    assert fold("Benoît") == fold("BENOIT")
    assert fold(fold("Élodie N’Diaye")) == fold("Élodie N’Diaye")  # idempotent


# ------------------------------------------------------------------------------------------- text types


def test_reject_nul() -> None:
    assert reject_nul("abc") == "abc"
    with pytest.raises(ValueError, match="must not contain NUL characters"):
        reject_nul("a\x00b")


def test_reject_control_characters() -> None:
    assert reject_control_characters("a\nb\tc") == "a\nb\tc"
    with pytest.raises(ValueError, match="must not contain NUL characters"):
        reject_control_characters("a\x00")
    with pytest.raises(ValueError, match="U\\+001B"):
        reject_control_characters("a\x1b[31m")
    with pytest.raises(ValueError, match="U\\+000A"):
        reject_control_characters("a\nb", allow="")


class Person(BaseModel):
    name: Name
    title: ShortText = ""
    needs: LongText = ""
    note: NoteText = ""


def test_text_types_strip_and_accept() -> None:
    person = Person(name="  Élodie Martin \n", title=" Maçon ", needs="ligne 1\r\nligne 2\r", note="a\tb")
    assert person.name == "Élodie Martin"
    assert person.title == "Maçon"
    assert person.needs == "ligne 1\nligne 2"
    assert person.note == "a\tb"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "String should have at least 1 character"),
        ("name", "   \n ", "String should have at least 1 character"),
        ("name", "x" * 101, "String should have at most 100 characters"),
        ("name", "Jean\nPierre", "single line"),
        ("name", "Jean\tPierre", "single line"),
        ("name", "Jean\x00", "must not contain NUL characters"),
        ("name", "Jean\x00\nX", "must not contain NUL characters"),
        ("name", "Jean\x07", "control characters"),
        ("title", "x" * 201, "String should have at most 200 characters"),
        ("title", "a\x00b", "must not contain NUL characters"),
        ("title", "a\x7fb", "control characters"),
        ("title", "a\x85b", "control characters"),  # C1 control
        ("needs", "x" * 2001, "String should have at most 2000 characters"),
        ("needs", "\x00", "must not contain NUL characters"),
        ("note", "x" * 4001, "String should have at most 4000 characters"),
        ("note", "ok\x0bnot ok", "control characters"),
    ],
)
def test_text_type_errors(field: str, value: str, message: str) -> None:
    data: dict[str, Any] = {"name": "Aurore", field: value}
    with pytest.raises(ValidationError) as info:
        Person.model_validate(data)
    messages = _messages(info.value)
    assert len(messages) == 1
    assert message in messages[0]
    assert info.value.errors()[0]["loc"] == (field,)


def test_text_lengths_at_bounds() -> None:
    person = Person(name="x" * 100, title="y" * 200, needs="z" * 2000, note="n" * 4000)
    assert len(person.note) == 4000
    # Surrounding whitespace is stripped before the length check; CRLF counts as one character.
    assert Person(name="  " + "x" * 100 + "  ").name == "x" * 100
    assert len(Person(name="a", note="\r\n".join(["n"] * 2000)).note) == 3999


def test_text_rejects_non_strings() -> None:
    with pytest.raises(ValidationError) as info:
        Person.model_validate({"name": 42})
    assert _messages(info.value) == ["Input should be a valid string"]


def test_text_json_schema_lengths() -> None:
    props = Person.model_json_schema()["properties"]
    assert props["name"]["minLength"] == 1
    assert props["name"]["maxLength"] == 100
    assert props["name"]["type"] == "string"
    assert props["title"]["maxLength"] == 200
    assert props["needs"]["maxLength"] == 2000
    assert props["note"]["maxLength"] == 4000
    assert "minLength" not in props["note"]


def test_bounded_text_factory() -> None:
    adapter: TypeAdapter[str] = TypeAdapter(bounded_text(10, 2))
    assert adapter.validate_python("  abc  ") == "abc"
    assert adapter.validate_python("a\nb") == "a\nb"
    assert adapter.json_schema() == {"type": "string", "minLength": 2, "maxLength": 10}
    with pytest.raises(ValidationError, match="at least 2 characters"):
        adapter.validate_python(" a ")
    with pytest.raises(ValidationError, match="at most 10 characters"):
        adapter.validate_python("x" * 11)
    with pytest.raises(ValidationError, match="must not contain NUL characters"):
        adapter.validate_python("ab\x00")

    single: TypeAdapter[str] = TypeAdapter(bounded_text(10, multiline=False))
    assert single.validate_python("") == ""
    assert single.json_schema() == {"type": "string", "maxLength": 10}
    with pytest.raises(ValidationError, match="single line"):
        single.validate_python("a\nb")


def test_bounded_text_as_model_field() -> None:
    title = bounded_text(5, 1)

    class Item(BaseModel):
        label: title  # type: ignore[valid-type]

    assert Item(label=" ab ").label == "ab"
    with pytest.raises(ValidationError):
        Item(label="abcdef")


def _upper_only(value: str) -> str:
    if value != value.upper():
        raise ValueError("must be upper case")
    return value


def test_bounded_text_metadata_in_an_annotation() -> None:
    """The factory as metadata: checked by mypy in annotations, composable with validators and Field."""

    class Unit(BaseModel):
        reference: Annotated[
            str, BoundedText(6, 1, multiline=False), AfterValidator(_upper_only), Field(description="A reference.")
        ]

    assert Unit(reference=" AB-1 ").reference == "AB-1"
    schema = Unit.model_json_schema()["properties"]["reference"]
    assert (schema["minLength"], schema["maxLength"], schema["description"]) == (1, 6, "A reference.")
    for bad, message in (("ab", "upper case"), ("ABCDEFG", "at most 6 characters"), ("A\tB", "single line")):
        with pytest.raises(ValidationError, match=message):
            Unit(reference=bad)


@pytest.mark.parametrize(("max_length", "min_length"), [(5, 6), (5, -1)])
def test_bounded_text_rejects_bad_bounds(max_length: int, min_length: int) -> None:
    with pytest.raises(ValueError, match="invalid text bounds"):
        bounded_text(max_length, min_length)
