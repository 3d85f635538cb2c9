"""xlt: cross-lingual transfer learning experiments."""

__version__ = "0.1.0"
