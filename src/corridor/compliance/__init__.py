"""Compliance: screening parties against watch-lists, AML rules, reviewers' cases and the audit trail.

Pure of the network: the rails (transfers/, cards/) ask an institution's desk (desk.py) for a verdict before a
payment leaves and act on it; the desk knows nothing of messages, ledgers or cards. names.py brings names across
scripts, watchlist.py reads the lists, screening.py scores parties against them, rules.py holds the AML rules,
audit.py the hash-chained log, policy.py the configuration they are built from.
"""

from corridor.compliance.desk import Case, CaseError, ComplianceDesk, Verdict
from corridor.compliance.policy import CompliancePolicy
from corridor.compliance.screening import Party

__all__ = ["Case", "CaseError", "ComplianceDesk", "CompliancePolicy", "Party", "Verdict"]
