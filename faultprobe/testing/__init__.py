"""Fixtures for tests, the project's and users' own: small archives with known defects
(`defects`), a toy study cube (`toycube`) and small synthetic studies (`studies`).

Nothing in the product imports this package; it writes seconds-sized inputs so a test can
run the real pipeline on them.
"""
