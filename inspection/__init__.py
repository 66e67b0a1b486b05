"""Inspection science: tolerance, sampling, SPC, capability and vision over plain values and arrays.

A leaf library: no I/O, and imports nothing else of this repository.
"""
