"""The one query engine: a typed query model compiled to SQL per dialect."""
