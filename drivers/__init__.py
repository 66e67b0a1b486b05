"""Device drivers: bytes in, readings out. A leaf library: imports nothing else of this repository."""
