"""ase-rm plugin: molecules integration (uses only ase_rm's public API)."""
