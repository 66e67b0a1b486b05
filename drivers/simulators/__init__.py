"""Simulated devices that speak the real protocols, shared by the tests, the benches and `lineside simulate`.

It must not import anything of this repository outside drivers/.
"""
