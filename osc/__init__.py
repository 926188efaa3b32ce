"""diffhost osc: python-osc server and client replies."""
