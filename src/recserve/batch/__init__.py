"""Batch recommendations: a list for every user (or a listed subset) written to a file,
from the CLI (``recserve recommend --all``) or as an API job (``/v1/recommendations/batch``)."""
