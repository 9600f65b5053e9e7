from django.apps import AppConfig
from django.db.models.signals import post_save


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Neuroma cases"

    def ready(self) -> None:
        from . import audit, outcomes  # noqa: F401  (audit connects the sign-in and failed sign-in signals)
        from .models import Treatment, Visit

        # The report's stored per-treatment facts follow every saved visit and treatment, whatever saved it.
        for model in (Visit, Treatment):
            post_save.connect(outcomes.on_clinical_save, sender=model, dispatch_uid=f"outcome-facts-{model.__name__}")
