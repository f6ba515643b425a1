"""Shared runtime of every SCIA service."""
