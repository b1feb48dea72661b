"""Reading areas: GeoJSON variants, Google Earth KML with holes, --bbox, no-fly zones."""

from __future__ import annotations

import json

import pytest

from uavops.errors import InputError, PlanError
from uavops.plan.area import load_area, parse_bbox

OUTER = [[76.850, 43.200], [76.855, 43.200], [76.855, 43.203], [76.850, 43.203], [76.850, 43.200]]
HOLE_CW = [[76.851, 43.201], [76.851, 43.202], [76.852, 43.202], [76.852, 43.201], [76.851, 43.201]]

GOOGLE_EARTH_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2"
     xmlns:kml="http://www.opengis.net/kml/2.2" xmlns:atom="http://www.w3.org/2005/Atom">
<Document>
\t<name>flood zone.kml</name>
\t<Style id="s_ylw-pushpin"><LineStyle><color>ff0000ff</color></LineStyle></Style>
\t<Folder><name>Survey</name>
\t<Placemark>
\t\t<name>flood zone</name>
\t\t<styleUrl>#m_ylw-pushpin</styleUrl>
\t\t<Polygon>
\t\t\t<tessellate>1</tessellate>
\t\t\t<outerBoundaryIs>
\t\t\t\t<LinearRing>
\t\t\t\t\t<coordinates>
\t\t\t\t\t\t76.85,43.2,0 76.85,43.203,0 76.855,43.203,0 76.855,43.2,0 76.85,43.2,0 
\t\t\t\t\t</coordinates>
\t\t\t\t</LinearRing>
\t\t\t</outerBoundaryIs>
\t\t\t<innerBoundaryIs>
\t\t\t\t<LinearRing>
\t\t\t\t\t<coordinates>
\t\t\t\t\t\t76.851,43.201,0 76.852,43.201,0 76.852,43.202,0 76.851,43.202,0 76.851,43.201,0 
\t\t\t\t\t</coordinates>
\t\t\t\t</LinearRing>
\t\t\t</innerBoundaryIs>
\t\t</Polygon>
\t</Placemark>
\t</Folder>
</Document>
</kml>
"""


def test_google_earth_kml_with_hole(tmp_path):
    path = tmp_path / "zone.kml"
    path.write_text(GOOGLE_EARTH_KML)
    area = load_area(path)
    assert len(area.polygon.interiors) == 1 and area.polygon.is_valid
    assert area.polygon.exterior.is_ccw


@pytest.mark.parametrize("wrap", ["geometry", "feature", "collection", "geometrycollection"])
def test_geojson_variants(tmp_path, wrap):
    geom = {"type": "Polygon", "coordinates": [OUTER, HOLE_CW]}
    data = {"geometry": geom, "feature": {"type": "Feature", "properties": {}, "geometry": geom},
            "collection": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {}, "geometry": geom},
                {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [76.8, 43.2]}}]},
            "geometrycollection": {"type": "GeometryCollection", "geometries": [geom]}}[wrap]
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(data))
    area = load_area(path)
    assert len(area.polygon.interiors) == 1


def test_clockwise_outer_ring_is_accepted(tmp_path):
    path = tmp_path / "cw.geojson"
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [OUTER[::-1]]}))
    assert load_area(path).polygon.area > 0


def test_exclusions_and_bbox(tmp_path):
    zone = tmp_path / "zone.geojson"
    zone.write_text(json.dumps({"type": "Polygon", "coordinates": [HOLE_CW]}))
    area = load_area(bbox="76.85,43.2,76.855,43.203", exclude=[zone])
    assert len(area.exclusions) == 1
    big = tmp_path / "big.geojson"
    big.write_text(json.dumps({"type": "Polygon", "coordinates": [[[76.84, 43.19], [76.86, 43.19], [76.86, 43.21],
                                                                   [76.84, 43.21], [76.84, 43.19]]]}))
    with pytest.raises(PlanError, match="cover the whole survey area"):
        load_area(bbox="76.85,43.2,76.855,43.203", exclude=[big])


@pytest.mark.parametrize("text,err", [("1,2,3", InputError), ("76.86,43.2,76.85,43.3", PlanError),
                                      ("43.2,76.85,43.3,196.9", PlanError)])
def test_bad_bbox(text, err):
    with pytest.raises(err):
        parse_bbox(text)


def test_area_needs_file_or_bbox():
    with pytest.raises(InputError, match="either"):
        load_area()
