"""Errors the planner answers with, each mapped to one gRPC status code by the service."""

from __future__ import annotations


class PlannerError(Exception):
    """Base class; the message is meant for the caller and names the problem and the limit."""


class InvalidSource(PlannerError):
    """Malformed URL or ref, or a local path the configuration refuses (INVALID_ARGUMENT)."""


class SourceNotFound(PlannerError):
    """Unknown or unreachable repository, or a ref it does not have (NOT_FOUND)."""


class SourceTooLarge(PlannerError):
    """The repository exceeds the size limit (RESOURCE_EXHAUSTED)."""


class CloneTimeout(PlannerError):
    """The clone did not finish within the time limit (DEADLINE_EXCEEDED)."""


class NothingToPlan(PlannerError):
    """The analysis found no deployable application (FAILED_PRECONDITION)."""
