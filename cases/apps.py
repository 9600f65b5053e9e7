from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Neuroma cases"

    def ready(self) -> None:
        from . import audit  # noqa: F401  (connects the sign-in and failed sign-in signals)
