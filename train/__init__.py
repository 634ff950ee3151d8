"""Reproducible training of postguard's text models (`python -m train`); see docs/models.md."""
