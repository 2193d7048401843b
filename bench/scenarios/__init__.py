"""Scripted multi-step studies, one subpackage each. May import execution and below."""
