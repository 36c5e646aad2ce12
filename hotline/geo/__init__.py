"""The agreed map: deconfliction lines, zones and positions, and notices judged against it.

frame.py measures (a metric frame for shapes, the WGS 84 ellipsoid for distances);
agreed.py holds the map and judges a notice's area; load.py reads the map from a
scenario's [geometry] tables or a GeoJSON file (RFC 7946), and writes it back.
"""
