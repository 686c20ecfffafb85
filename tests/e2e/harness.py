"""The process harness of the end-to-end tests; it lives in `simulator.stack` (the simulator starts stacks too)."""

from simulator.stack import LocalStack, Stack, own_database, wait_until

__all__ = ["LocalStack", "Stack", "own_database", "wait_until"]
