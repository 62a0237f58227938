"""Storage adapters. The only package that imports database drivers."""
