"""The .snn grammar, shipped as package data."""
