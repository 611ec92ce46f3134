"""Test backends written the way users write them (not to robo-backend's contract)."""
