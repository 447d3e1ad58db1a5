"""Stand-in package path for the v1 conductor harness (Tacker itself is not installable here)."""
