"""postguard: the Board's social media policy applied on district computers."""

__version__ = "0.1.0"
