"""Exhaustive exploration: every interleaving of a small exercise, checked."""
