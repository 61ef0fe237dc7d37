"""Other names of the Leads columns: in the exports of the CRMs people leave (HubSpot,
Salesforce, Pipedrive, Zoho), and in the sheets teams keep, in English and in French.

``sheetcrm import`` maps a file's columns by them, and the sync reads a Leads header by them,
so a sheet adopted by ``sheetcrm init`` keeps its own headers ("Société", "E-mail").
"""

from __future__ import annotations

LEADS_ALIASES: dict[str, str] = {
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
        "responsable, commercial, assigned to"
    ),
    "Next action date": "next activity date, deal - next activity date, prochaine action, relance",
    "Last contact": "last contacted, dernier contact",
    "Notes": "description, comments, remarques, commentaires",
}
"""By Leads header: its other names, separated by commas (case and spacing ignored)."""
