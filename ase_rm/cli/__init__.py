"""The ``ase-rm`` command line (nothing in the library imports it)."""
