"""Backends: device, dtype and runtime sessions. Imported only by plugin code at run time (and the probe)."""
