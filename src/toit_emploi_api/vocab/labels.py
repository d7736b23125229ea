"""French labels of every enumerated value the API publishes, for a French frontend.

Keyed by the vocabulary's name (the enum's schema name in the OpenAPI document) then by value. The OpenAPI hook
publishes them as `x-enum-descriptions` (a list parallel to `enum`) on every enum schema; `GET /api/v1/vocabularies`
serves them. A test fails when an enum of the document has a value without a label here.

Sort enums (`HouseholdSort`, …) are labelled from `SORT_KEYS`: `-created_at` is "Date de création (décroissant)".
"""

from __future__ import annotations

from typing import Final

LABELS: Final[dict[str, dict[str, str]]] = {
    # The application's steps and the reports (issue 11).
    "ApplicationStatus": {"draft": "En préparation", "submitted": "Transmise", "presented": "Présentée"},
    "HistoryKind": {
        "move": "Changement d'étape",
        "application_submitted": "Candidature transmise",
        "application_presented": "Candidature présentée",
    },
    "ProgrammeGroupBy": {
        "none": "Sans regroupement",
        "retention_year": "Par année d'entrée",
        "referring_organisation": "Par structure orientatrice",
    },
    "FunnelGroupBy": {"none": "Sans regroupement", "retention_year": "Par année d'entrée"},
    "ReferringKind": {"referral_partner": "Partenaire orienteur", "operator": "Structure d'Aurore"},
    "Stage": {
        "diagnostic": "Diagnostic",
        "matching": "Mise en relation",
        "relay_stay": "Séjour en appartement relais",
        "lease": "Bail et installation",
        "follow_up": "Accompagnement",
        "completed": "Droit commun (terminé)",
        "withdrawn": "Sorti du dispositif",
    },
    "WithdrawalReason": {
        "application_declined": "Candidature non retenue",
        "household_declined": "Renoncement de la famille",
        "employer_declined": "Refus de l'employeur",
        "relay_stay_inconclusive": "Séjour relais non concluant",
        "no_housing_found": "Pas de logement trouvé",
        "returned_to_paris": "Retour en région parisienne",
        "lost_contact": "Perte de contact",
        "other": "Autre motif",
    },
    "Role": {
        "admin": "Administrateur",
        "service_manager": "Chef de service",
        "paris_referent": "Référent Paris",
        "partner_worker": "Travailleur social partenaire",
        "landlord": "Bailleur",
        "funder": "Financeur",
    },
    "OrganisationKind": {
        "operator": "Opérateur du programme",
        "referral_partner": "Partenaire orienteur",
        "landlord": "Bailleur social",
        "funder": "Financeur",
    },
    "MemberRole": {
        "head": "Chef de famille",
        "partner": "Conjoint·e",
        "child": "Enfant",
        "other_relative": "Autre membre de la famille",
    },
    "HousingSituation": {
        "hotel_115": "Hôtel (115)",
        "shelter": "Centre d'hébergement",
        "hosted_by_relatives": "Hébergé par des proches",
        "street": "Sans abri",
        "other": "Autre",
    },
    "FrenchLevel": {
        "none": "Aucune notion",
        "a1": "A1 (découverte)",
        "a2": "A2 (survie)",
        "b1": "B1 (seuil)",
        "b2": "B2 (avancé)",
        "c1": "C1 (autonome)",
        "c2": "C2 (maîtrise)",
        "native": "Langue maternelle",
    },
    "SchoolingLevel": {
        "none": "Non scolarisé",
        "creche": "Crèche",
        "maternelle": "École maternelle",
        "elementaire": "École élémentaire",
        "college": "Collège",
        "lycee": "Lycée",
        "other": "Autre",
    },
    "ContractType": {
        "cdi": "CDI",
        "cdd": "CDD",
        "interim": "Intérim",
        "apprenticeship": "Apprentissage",
    },
    "JobOpeningStatus": {"open": "Ouverte", "filled": "Pourvue", "closed": "Fermée"},
    "PlacementStatus": {
        "proposed": "Proposée",
        "interview": "Entretien",
        "offered": "Offre faite",
        "hired": "Embauche",
        "declined": "Refusée",
        "cancelled": "Annulée",
    },
    "PlacementParty": {"household": "La famille", "employer": "L'employeur"},
    "RelayStayStatus": {"booked": "Réservé", "ended": "Terminé", "cancelled": "Annulé"},
    "AllocationStatus": {
        "reserved": "Réservé",
        "lease_signed": "Bail signé",
        "ended": "Terminé",
        "cancelled": "Annulé",
    },
    "UnitStatus": {"vacant": "Vacant", "reserved": "Réservé", "let": "Loué", "unavailable": "Indisponible"},
    "DpeClass": {
        "A": "A (très performant)",
        "B": "B",
        "C": "C",
        "D": "D",
        "E": "E",
        "F": "F",
        "G": "G (très énergivore)",
    },
    "FollowUpDomain": {
        "employment": "Emploi",
        "housing": "Logement",
        "schooling": "Scolarité",
        "health_insurance": "Assurance maladie",
        "benefits": "Prestations sociales",
        "administrative": "Démarches administratives",
        "other": "Autre",
    },
    "SyncMode": {"snapshot": "Instantané complet", "delta": "Modifications seules"},
    "SyncConflictCode": {
        "unit_held_by_programme": "Logement réservé ou loué par le programme",
        "relay_stay_booked": "Séjour relais réservé",
        "held_unit_absent_from_snapshot": "Logement tenu absent de l'instantané",
    },
    "ErasureReason": {
        "erasure_request": "Demande d'effacement de la famille",
        "consent_withdrawn": "Retrait du consentement",
        "unlawful_processing": "Traitement illicite",
        "other": "Autre motif",
    },
    "AgendaItemKind": {
        "relay_stay_start": "Début de séjour relais",
        "relay_stay_end": "Fin de séjour relais",
        "job_start": "Prise de poste",
        "lease_signature": "Signature du bail",
        "move_in": "Emménagement",
        "follow_up_overdue": "Suivi en retard",
        "placement_without_news": "Mise en relation sans nouvelles",
        "application_awaiting_decision": "Candidature présentée en attente de décision",
        "right_to_work_expiry": "Fin du titre de séjour",
    },
    "AgendaObjectType": {
        "relay_stay": "Séjour relais",
        "placement": "Mise en relation",
        "allocation": "Attribution de logement",
        "household": "Famille",
        "member": "Membre de la famille",
    },
    "MatchFactor": {
        "rome_match": "Métier (code ROME)",
        "experience": "Expérience",
        "commute": "Trajet domicile-travail",
        "rent": "Loyer",
        "availability": "Disponibilité",
        "size_fit": "Taille du logement",
    },
    "EventType": {
        "household.created": "Foyer créé",
        "household.deleted": "Foyer supprimé",
        "household.stage_changed": "Changement d'étape",
        "household.application_submitted": "Candidature transmise",
        "household.application_presented": "Candidature présentée",
        "placement.changed": "Mise en relation modifiée",
        "relay_stay.booked": "Séjour relais réservé",
        "relay_stay.outcome_recorded": "Bilan du séjour relais",
        "relay_stay.cancelled": "Séjour relais annulé",
        "allocation.changed": "Attribution de logement modifiée",
        "housing_unit.sync_completed": "Synchronisation des logements terminée",
    },
    "DeliveryStatus": {"pending": "En attente", "delivered": "Livré", "failed": "Échec"},
    "HttpMethod": {"GET": "Lire", "POST": "Agir"},
    "CallerKind": {"user": "Personne", "client": "Système (client d'API)"},
}

SORT_KEYS: Final[dict[str, str]] = {
    "created_at": "Date de création",
    "updated_at": "Date de mise à jour",
    "reference": "Référence",
    "rent": "Loyer",
    "rooms": "Nombre de pièces",
    "available_from": "Date de disponibilité",
    "legal_name": "Raison sociale",
    "name": "Nom",
    "email": "Adresse e-mail",
    "start_date": "Date de début",
    "title": "Intitulé",
    "code": "Code",
    "label": "Libellé",
    "status": "Statut",
    "stage_entered_at": "Entrée dans l'étape",
    "at": "Date",
    "entry_date": "Date",
    "last_contact_date": "Dernier contact",
    "full_name": "Nom",
    "starts_on": "Date d'arrivée",
    "population": "Population",
    "insee_code": "Code INSEE",
    "birth_date": "Date de naissance",
    "last_name": "Nom de famille",
    "due_on": "Date d'échéance",
}


def sort_label(value: str) -> str | None:
    """`-rent` → "Loyer (décroissant)", `rent` → "Loyer (croissant)"; None for an unknown key."""
    key = value.removeprefix("-")
    label = SORT_KEYS.get(key)
    if label is None:
        return None
    return f"{label} ({'décroissant' if value.startswith('-') else 'croissant'})"


def label(vocabulary: str, value: str) -> str | None:
    """The French label of `value` in `vocabulary` (sort vocabularies end in `Sort`)."""
    if vocabulary.endswith("Sort"):
        return sort_label(value)
    return LABELS.get(vocabulary, {}).get(value)


def vocabulary_for(values: list[str]) -> str | None:
    """The vocabulary whose values are exactly `values` (for enums published inline, e.g. from a `Literal`)."""
    wanted = set(values)
    for name, labels in LABELS.items():
        if set(labels) == wanted:
            return name
    return None
