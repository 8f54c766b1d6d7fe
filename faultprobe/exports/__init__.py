"""Exports of a study's cube to other tools' formats (`faultprobe export`)."""
