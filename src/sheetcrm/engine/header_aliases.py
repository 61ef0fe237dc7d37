"""Other names of the Leads columns: in the exports of the CRMs people leave (HubSpot,
Salesforce, Pipedrive, Zoho), and in the sheets teams keep, in English and in French.

``sheetcrm import`` maps a file's columns by them, and the sync reads a Leads header by them,
so a sheet adopted by ``sheetcrm init`` keeps its own headers ("Société", "E-mail"). The
French names of the service's columns ("Vérification", "Cycle de vie") are the headers of
the b2b-fr template; they are chosen so that a team's own column is not taken for one
("Classe", not "Note"; "Vérification", not "Statut", which teams keep for their own use).
Accents are ignored as well as case and spacing (schema.TabSpec.column).
"""

from __future__ import annotations

LEADS_ALIASES: dict[str, str] = {
    "Lead ID": "id du lead, id lead",
    "Created at": (
        "create date, created date, created time, deal - deal created, date de création, créé le"
    ),
    "First name": "firstname, given name, person - first name, prénom, prenom",
    "Last name": "lastname, surname, family name, person - last name, nom, nom de famille",
    "Email": (
        "e-mail, email address, e-mail address, person - email, person - email - work, "
        "mail, courriel, adresse e-mail, adresse mail"
    ),
    "Phone": (
        "phone number, telephone, mobile, mobile phone, mobile phone number, person - "
        "phone, person - phone - work, person - phone - mobile, téléphone, tél, tel, "
        "tél., portable, numéro de téléphone"
    ),
    "Company": (
        "organisation, organization, account, company name, account name, company / "
        "account, organization name, organization - name, person - organization, deal - "
        "organization, société, societe, entreprise, raison sociale"
    ),
    "Country": "country/region, pays",
    "Industry": "secteur, secteur d'activité, sector",
    "Source": "lead source, original source, origine, provenance",
    "Stage": "deal stage, deal - stage, étape, etape, pipeline stage",
    "Amount": "deal value, value, deal - value, montant, valeur",
    "Expected close": (
        "expected close date, close date, deal - expected close date, date de clôture "
        "prévue, clôture prévue"
    ),
    "Owner": (
        "lead owner, contact owner, deal owner, deal - owner, person - owner, "
        "responsable, commercial, assigned to, propriétaire"
    ),
    "Next action date": "next activity date, deal - next activity date, prochaine action, relance",
    "Last contact": "last contacted, dernier contact",
    "Notes": "description, comments, remarques, commentaires",
    "Score reasons": "détail du score, raisons du score",
    "Grade": "classe",
    "Lifecycle": "cycle de vie",
    "Assigned at": "attribué le",
    "Stage changed at": "étape changée le",
    "Closed at": "clôturé le, clos le",
    "First touch at": "premier contact le",
    "Status": "vérification, état de la ligne",
    "Duplicate of": "doublon de",
    "Submission ID": "id de soumission",
    "Win probability": "probabilité de gain",
    "Win reasons": "raisons de la probabilité",
    "Consent": "consentement",
    "Sequence": "séquence",
    "Sequence step": "étape de séquence",
    "Next send at": "prochain envoi",
    "Unsubscribed at": "désinscrit le",
}
"""By Leads header: its other names, separated by commas (case and spacing ignored)."""

_FIELD_OPERATOR_VALUE = {"Field": "champ, champs", "Operator": "opérateur", "Value": "valeur"}
RULE_TAB_ALIASES: dict[str, dict[str, str]] = {
    "Stages": {
        "Stage": "étape",
        "Probability": "probabilité",
        "Max days": "jours max, nombre de jours max",
        "Required fields": "champs obligatoires, champs requis",
    },
    "Scoring": {"Rule": "règle", **_FIELD_OPERATOR_VALUE, "Group": "groupe", "Status": "statut"},
    "Routing": {
        "Order": "ordre",
        **_FIELD_OPERATOR_VALUE,
        "Assign to": "attribuer à, assigner à",
        "Strategy": "stratégie",
        "Status": "statut",
    },
    "Team": {
        "Name": "nom",
        "Email": "e-mail, courriel",
        "Team": "équipe",
        "Active": "actif, active",
        "Weight": "poids",
        "Daily capacity": "capacité par jour, capacité journalière",
        "Away until": "absent jusqu'au, absent jusqu'à, absent jusqu’au",
    },
    "Alerts": {
        "When": "quand",
        "Stage": "étape",
        **_FIELD_OPERATOR_VALUE,
        "Send to": "envoyer à, destinataire",
        "Channel": "canal",
    },
    "Settings": {"Key": "clé, paramètre", "Value": "valeur", "What it does": "à quoi ça sert"},
    "Forms": {
        "Form field": "champ du formulaire, question",
        "Leads column": "colonne leads, colonne",
        "Form": "formulaire",
    },
    "Targets": {
        "Owner or team": "commercial ou équipe, commercial, équipe",
        "Month": "mois",
        "Won value target": "objectif de valeur gagnée, objectif de ca",
        "Won deals target": "objectif d'affaires gagnées, objectif de ventes",
        "Activities target": "objectif d'activités",
    },
    "Sequences": {
        "Sequence": "séquence",
        "Step": "étape",
        "Wait": "attente, délai",
        "After": "après",
        "Subject": "objet, sujet",
        "Body": "corps, message",
        "Status": "statut",
    },
    "Enrolment": {
        "Sequence": "séquence",
        "When": "quand",
        **_FIELD_OPERATOR_VALUE,
    },
}
"""By rule tab, then header: its French names (b2b-fr), read like the English ones."""

ACTIVITIES_ALIASES: dict[str, str] = {
    "At": "date, quand, le",
    "Lead ID": "id du lead, id lead, lead, e-mail du lead",
    "Outcome": "résultat, resultat, issue",
    "By": "par, qui",
    "Notes": "remarques, commentaires",
    "Next action date": "prochaine action, relance",
    "Submission ID": "id de soumission",
    "Win probability": "probabilité de gain",
    "Win reasons": "raisons de la probabilité",
}
"""The Activities tab's headers: their French names (b2b-fr), read like the English ones."""
