"""The history as a CSV file: one line per fact, the lines of one household sharing its `cle_foyer`.

Each line's `fait` says what it records; the lines become the same document as a JSON line (`HistoryHousehold`),
and every problem found in a household is reported on the line of the fact at fault (`path_lines`).

Facts (`fait`), with what `date` means and their other columns:

- `foyer` (opened): situation_logement, date_consentement, portee_consentement, organisation_orientatrice,
  besoins_contraintes, date_transmission (the application submitted), date_presentation (presented);
- `membre` (no date): cle_membre, prenom, nom, date_naissance, role, codes_rome (space separated), niveau_scolaire;
- `etape` (the move): vers (the stage), motif (withdrawal reason), note;
- `mise_en_relation` (proposed): cle_membre, offre (job opening id), date_entretien, date_offre, statut, date_fin,
  type_contrat, date_debut_contrat, refuse_par, motif;
- `sejour_relais` (first day): logement (unit id), date_fin, accord_famille, accord_employeur (oui/non), note;
- `attribution` (reserved): logement, date_bail, date_emmenagement, derogation (the override reason of a unit too
  small);
- `suivi` (the entry): domaine, note;
- `cloture` (closure): note.
"""

from __future__ import annotations

from typing import Any, Final

from toit_emploi_api.core import csv_input

FACTS: Final = ("foyer", "membre", "etape", "mise_en_relation", "sejour_relais", "attribution", "suivi", "cloture")
HEADERS: Final = (
    "cle_foyer", "fait", "date", "situation_logement", "date_consentement", "portee_consentement",
    "organisation_orientatrice", "besoins_contraintes", "cle_membre", "prenom", "nom", "date_naissance", "role",
    "codes_rome", "niveau_scolaire", "vers", "motif", "note", "offre", "date_entretien", "date_offre", "statut",
    "date_fin", "type_contrat", "date_debut_contrat", "refuse_par", "logement", "accord_famille", "accord_employeur",
    "date_bail", "date_emmenagement", "domaine", "derogation", "date_transmission", "date_presentation",
)  # fmt: skip
REQUIRED: Final = ("cle_foyer", "fait", "date")
_YES, _NO = frozenset({"oui", "o", "true", "1"}), frozenset({"non", "n", "false", "0"})


def _flag(value: str | None) -> Any:
    if value is None:
        return None
    low = value.lower()
    return True if low in _YES else False if low in _NO else value


def _pick(cells: dict[str, str | None], **names: str) -> dict[str, Any]:
    """The JSON fields named by `names` (field=header) whose cells are not empty."""
    return {field: cells[header] for field, header in names.items() if cells.get(header) is not None}


def _add(
    doc: dict[str, Any], lines: dict[str, int], line: int, path: str, item: dict[str, Any], into: str | None
) -> None:
    """Put `item` at `path` of the document (or append it to its list `into`) and remember its line."""
    if into is None:
        doc[path] = item
        lines[path] = line
    else:
        doc.setdefault(into, []).append(item)
        lines[f"{into}.{len(doc[into]) - 1}"] = line


def parse(text: str) -> tuple[list[tuple[int, dict[str, Any], dict[str, int]]], list[tuple[int, str, str]]]:
    """(first line, document, path → line) per household, and (line, column, message) for lines unusable as such."""
    rows = csv_input.reader(text)
    names = [h.lower() for h in csv_input.header(rows)]
    missing = [h for h in REQUIRED if h not in names]
    unknown = [h for h in names if h not in HEADERS]
    if missing or unknown:
        raise csv_input.CsvInputError(
            f"missing column(s) {', '.join(missing) or '-'}; unknown column(s) {', '.join(unknown) or '-'}. "
            f"Columns: {';'.join(HEADERS)}.",
            field="header",
        )
    households: dict[str, tuple[int, dict[str, Any], dict[str, int]]] = {}
    problems: list[tuple[int, str, str]] = []
    for raw in csv_input.records(rows):
        line = rows.line_num  # type: ignore[attr-defined]
        if len(raw) != len(names):
            problems.append((line, "line", f"expected {len(names)} cells, found {len(raw)}"))
            continue
        cells = {n: (c.strip() or None) for n, c in zip(names, raw, strict=True)}
        key, fact, day = cells["cle_foyer"], (cells["fait"] or "").lower(), cells["date"]
        if key is None:
            problems.append((line, "cle_foyer", "required"))
            continue
        if fact not in FACTS:
            problems.append((line, "fait", "one of " + ", ".join(FACTS)))
            continue
        _, doc, lines = households.setdefault(key, (line, {"key": key}, {"": line}))

        def add(path: str, item: dict[str, Any], into: str | None = None) -> None:
            _add(doc, lines, line, path, item, into)  # noqa: B023 - called at once, inside this iteration

        if fact == "foyer":
            doc.update({"created_on": day} if day else {})
            doc.update(
                _pick(
                    cells,
                    housing_situation="situation_logement",
                    consent_date="date_consentement",
                    consent_scope="portee_consentement",
                    referring_organisation_id="organisation_orientatrice",
                    needs_constraints="besoins_contraintes",
                    submitted_on="date_transmission",
                    presented_on="date_presentation",
                )
            )
            lines[""] = line
        elif fact == "membre":
            member = _pick(
                cells,
                key="cle_membre",
                first_name="prenom",
                last_name="nom",
                birth_date="date_naissance",
                role="role",
                schooling_level="niveau_scolaire",
            )
            if cells.get("codes_rome"):
                member["rome_codes"] = str(cells["codes_rome"]).upper().split()
            add("", member, "members")
        elif fact == "etape":
            add("", {"on": day, **_pick(cells, to="vers", reason="motif", note="note")}, "moves")
        elif fact == "mise_en_relation":
            placement = {
                "proposed_on": day,
                **_pick(
                    cells,
                    member="cle_membre",
                    job_opening_id="offre",
                    interview_on="date_entretien",
                    offered_on="date_offre",
                    status="statut",
                    closed_on="date_fin",
                    contract_type="type_contrat",
                    start_date="date_debut_contrat",
                    declined_by="refuse_par",
                    reason="motif",
                ),
            }
            add("", placement, "placements")
        elif fact == "sejour_relais":
            stay = {"start_date": day, **_pick(cells, unit_id="logement", end_date="date_fin", note="note")}
            stay["family_agrees"] = _flag(cells.get("accord_famille"))
            stay["employer_agrees"] = _flag(cells.get("accord_employeur"))
            add("", stay, "relay_stays")
        elif fact == "attribution":
            add(
                "allocation",
                {"reserved_on": day, **_pick(cells, unit_id="logement", lease_signed_date="date_bail",
                                              move_in_date="date_emmenagement", override_reason="derogation")},
            )  # fmt: skip
        elif fact == "suivi":
            add("", {"entry_date": day, **_pick(cells, domain="domaine", note="note")}, "follow_up_entries")
        else:
            add("closure", {"date": day, **_pick(cells, note="note")})
    return list(households.values()), problems


def line_of(lines: dict[str, int], path: str) -> int:
    """The line of the fact a problem's path points into (`moves.2.on` → the line of the third move)."""
    parts = path.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in lines:
            return lines[prefix]
    return lines[""]
