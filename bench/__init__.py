"""Benchmarks that compose services (`baoxue bench`); kept out of the product packages so the runtime imports no
service."""
