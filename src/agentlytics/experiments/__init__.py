"""A/B experiments: deterministic assignment, stored configs, per-variant results and statistics.

* :mod:`.assign`: the variant a user sees (the same hash as the tracker and the Python SDK);
* :mod:`.service`: create, list, get, update and delete configs, and the tracker's config;
* :mod:`.results`: per-variant tallies from the event store, through the query engine;
* :mod:`.stats`: the math on those tallies (Bayesian, sequential, sample-ratio mismatch).
"""
