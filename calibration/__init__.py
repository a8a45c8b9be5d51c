"""Calibration data shipped with povsim: published figures (with their source column) and the derived tables the population is built from."""
