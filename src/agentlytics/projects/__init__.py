"""Tenancy: accounts, projects, keys, limits."""
