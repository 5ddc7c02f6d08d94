"""Helpers the tests share: constants, the served app, call playing, and per-domain worlds.

Test modules import from here, never from each other or from conftest (which holds only fixtures).
"""
