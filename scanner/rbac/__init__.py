"""RBAC analysis: effective permissions per subject, duties and separation-of-duties conflicts."""

from scanner.rbac.analysis import RbacAnalysis, SubjectReport, analyze, duty_matrix
from scanner.rbac.duties import DutyConfig, DutyConfigError
from scanner.rbac.effective import RbacIndex, Request
from scanner.rbac.model import Grant, PolicyRule, Subject

__all__ = [
    "DutyConfig",
    "DutyConfigError",
    "Grant",
    "PolicyRule",
    "RbacAnalysis",
    "RbacIndex",
    "Request",
    "Subject",
    "SubjectReport",
    "analyze",
    "duty_matrix",
]
