"""Benchmarks of the API at clinic-network scale, with a naive reference and the raw-SQL floor (not tests)."""
