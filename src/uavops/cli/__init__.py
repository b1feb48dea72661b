"""Command line: a thin layer over the library. No geometry, MAVLink or pixel logic here."""
