"""Targets beyond the local guest: hardware hosts over SSH (paramiko)."""
