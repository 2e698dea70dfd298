"""The one-shot diamond demo: train on one cubic diamond cell, search, classify."""
