from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmarks' own pieces that Django must find: the network generator's management command.

    Installed only by the benchmark and test settings, never by the product's.
    """

    name = "bench"
    verbose_name = "Benchmarks"
