"""riskml: find fraud and error in social insurance claims; scores advise, people decide."""

__version__ = "0.1.0"
