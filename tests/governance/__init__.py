"""Tests of crmcore.governance."""
