"""A seeded generator of a realistic year of a Vietnamese sales organisation."""
