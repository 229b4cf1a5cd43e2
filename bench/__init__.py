"""Benchmarks against real PostgreSQL and Mosquitto (see bench/README.md, docs/benchmarks.md)."""
