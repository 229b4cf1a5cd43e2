"""Merchants, stores, console users, their sessions, and the console's web shell."""
