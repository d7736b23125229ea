"""toit_emploi_api: the JSON API behind the programme "Un toit, un emploi"."""

__version__ = "0.1.0"
