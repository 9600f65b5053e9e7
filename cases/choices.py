"""The clinical value sets of DOMAIN.md §2, as the codes stored in the database and used by the API."""

from django.db import models


class Role(models.TextChoices):
    PODIATRIST = "podiatrist", "Podiatrist"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"
    REVIEWER = "reviewer", "Reviewer (read-only)"


class Sex(models.TextChoices):
    """FHIR administrative gender."""

    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Foot(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


class Symptom(models.TextChoices):
    BURNING = "burning", "Burning pain"
    SHOOTING = "shooting", "Shooting pain"
    STABBING = "stabbing", "Stabbing pain"
    RADIATING = "radiating", "Radiating pain"
    NUMBNESS = "numbness", "Numbness"
    TINGLING = "tingling", "Tingling"
    STONE_SENSATION = "stone_sensation", "Walking on a stone / folded sock"


class AggravatingFactor(models.TextChoices):
    FOOTWEAR = "footwear", "Footwear"
    WALKING = "walking", "Walking"
    STANDING = "standing", "Standing"
    SPORT = "sport", "Sport"


class RelievingFactor(models.TextChoices):
    SHOE_REMOVAL = "shoe_removal", "Removing shoes"
    MASSAGE = "massage", "Massage"
    REST = "rest", "Rest"


class RiskFactor(models.TextChoices):
    HIGH_HEELS_OR_NARROW_SHOES = "high_heels_or_narrow_shoes", "High-heeled or narrow shoes"
    TRAUMA = "trauma", "Forefoot trauma"
    INFLAMMATORY_ARTHRITIS = "inflammatory_arthritis", "Inflammatory arthritis"
    REPETITIVE_STRESS = "repetitive_stress", "Repetitive occupational or sports stress"


class ExamSign(models.TextChoices):
    MULDER_CLICK = "mulder_click", "Mulder's click"
    WEB_SPACE_TENDERNESS = "web_space_tenderness", "Web-space tenderness"
    LATERAL_SQUEEZE = "lateral_squeeze", "Lateral squeeze test"
    PALPABLE_MASS = "palpable_mass", "Palpable mass"
    TOE_SPLAYING = "toe_splaying", "Toe splaying"


class Imaging(models.TextChoices):
    NONE = "none", "None"
    ULTRASOUND = "ultrasound", "Ultrasound"
    MRI = "mri", "MRI"


class PresentationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    REFERRED = "referred", "Referred"
    CLOSED = "closed", "Closed"


class TreatmentKind(models.TextChoices):
    FOOTWEAR_MODIFICATION = "footwear_modification", "Footwear modification"
    ORTHOSIS = "orthosis", "Orthosis"
    CORTICOSTEROID_INJECTION = "corticosteroid_injection", "Corticosteroid injection"
    ALCOHOL_INJECTION = "alcohol_injection", "Alcohol (sclerosing) injection"
    RADIOFREQUENCY_ABLATION = "radiofrequency_ablation", "Radiofrequency ablation"
    CRYONEUROLYSIS = "cryoneurolysis", "Cryoneurolysis"
    NEURECTOMY = "neurectomy", "Neurectomy"


class OrthosisType(models.TextChoices):
    METATARSAL_PAD = "metatarsal_pad", "Metatarsal pad"
    PREFABRICATED_INSOLE = "prefabricated_insole", "Prefabricated insole"
    CUSTOM_ORTHOSIS = "custom_orthosis", "Custom orthosis"


class InjectionDrug(models.TextChoices):
    METHYLPREDNISOLONE_ACETATE = "methylprednisolone_acetate", "Methylprednisolone acetate"
    TRIAMCINOLONE_ACETONIDE = "triamcinolone_acetonide", "Triamcinolone acetonide"
    DEXAMETHASONE = "dexamethasone", "Dexamethasone"
    BETAMETHASONE = "betamethasone", "Betamethasone"
    OTHER = "other", "Other"


class NeurectomyApproach(models.TextChoices):
    DORSAL = "dorsal", "Dorsal"
    PLANTAR = "plantar", "Plantar"


class Response(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETE = "complete", "Complete relief"
    PARTIAL = "partial", "Partial relief"
    NONE = "none", "No relief"


class Relief(models.TextChoices):
    """Patient-reported relief since the previous visit."""

    COMPLETE = "complete", "Complete"
    PARTIAL = "partial", "Partial"
    NONE = "none", "None"


class ComplicationKind(models.TextChoices):
    RECURRENT_NEUROMA = "recurrent_neuroma", "Recurrent neuroma"
    STUMP_NEUROMA = "stump_neuroma", "Stump neuroma"
    INFECTION = "infection", "Infection"
    WOUND_DEHISCENCE = "wound_dehiscence", "Wound problem (dehiscence)"
    PERSISTENT_NUMBNESS = "persistent_numbness", "Persistent numbness"
    FAT_PAD_ATROPHY = "fat_pad_atrophy", "Fat-pad atrophy"
    SKIN_DEPIGMENTATION = "skin_depigmentation", "Skin depigmentation"
    TOE_DEVIATION = "toe_deviation", "Toe deviation"
    CRPS = "crps", "Complex regional pain syndrome"
    OTHER = "other", "Other"


# ICD-10 (WHO) G57.6 covers Morton's metatarsalgia; ICD-10-CM adds laterality (DOMAIN.md §5).
ICD10_MORTON = "G57.6"
ICD10_CM_BY_FOOT = {Foot.RIGHT: "G57.61", Foot.LEFT: "G57.62"}
