"""Ledgergate: policy-as-code compliance scanner for finance-regulated Kubernetes platforms."""

__version__ = "0.1.0"
