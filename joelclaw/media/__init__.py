"""Media the owner sends: what kind it is, its transcript or description, and its archive."""
