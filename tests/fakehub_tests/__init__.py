"""Tests of the loopback fake hub itself: if these fail, every download test is suspect."""
