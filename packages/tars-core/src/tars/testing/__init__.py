"""Test support: the in-memory bus, a real-broker fixture and speech generated at test time."""
