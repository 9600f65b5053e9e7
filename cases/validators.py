"""Clinical ranges of DOMAIN.md §3 that are warnings rather than refusals.

Hard ranges (pain 0–10, MOxFQ 0–100, size 0–40 mm, interspace 1–4) are field validators and database
constraints on the models. The figures here are usual-practice ranges: a value outside them is
allowed once the clinician confirms it, so it is never saved silently.
"""

from decimal import Decimal

from .choices import InjectionDrug, TreatmentKind

UNUSUAL_NEUROMA_SIZE_MM = Decimal("20")

# Typical corticosteroid doses (mg) by drug, and injected volume with the anaesthetic (ml).
USUAL_DOSE_MG = {
    InjectionDrug.METHYLPREDNISOLONE_ACETATE: (Decimal("20"), Decimal("40")),
    InjectionDrug.TRIAMCINOLONE_ACETONIDE: (Decimal("10"), Decimal("40")),
}
USUAL_VOLUME_ML = (Decimal("0.5"), Decimal("3"))


def neuroma_size_warnings(size_mm: Decimal | None) -> list[str]:
    if size_mm is not None and size_mm > UNUSUAL_NEUROMA_SIZE_MM:
        return [f"A neuroma of {size_mm} mm is unusually large (over {UNUSUAL_NEUROMA_SIZE_MM} mm)."]
    return []


def injection_warnings(*, kind: str, drug: str, dose_mg: Decimal | None, volume_ml: Decimal | None) -> list[str]:
    if kind != TreatmentKind.CORTICOSTEROID_INJECTION:
        return []
    warnings = []
    if dose_mg is not None and drug in USUAL_DOSE_MG:
        low, high = USUAL_DOSE_MG[drug]
        if not low <= dose_mg <= high:
            warnings.append(
                f"A dose of {dose_mg} mg of {InjectionDrug(drug).label.lower()} is outside the usual {low}–{high} mg."
            )
    if volume_ml is not None:
        low, high = USUAL_VOLUME_ML
        if not low <= volume_ml <= high:
            warnings.append(f"A volume of {volume_ml} ml is outside the usual {low}–{high} ml.")
    return warnings
