"""Pure geography, below every stage and above the base ``gridwatch``: no SQL, no Redis, no clock of its own.

* ``codes``    -- grid codes in the national style (GB/T 2260 + street office + community + grid) and their checks
* ``scope``    -- the one grid-scope rule: ``within(code, scope)``, a prefix of the grid code tree
* ``distance`` -- the one earth radius and the one haversine, and boxes and lattice cells around a point
* ``datum``    -- WGS-84 (stored) <-> GCJ-02 / BD-09 / CGCS2000 (the maps' datums)
* ``grids``    -- the grid map: GeoJSON in, validated features and the point -> grid index out
* ``routing``  -- which grid (and its community and office) holds a point; ``GridRouter``
* ``gridmap``  -- keeps a process's routers on the stored map while it runs (the hot swap)
* ``routes``   -- where a car is at a moment: simulated routes, fixed positions, a camera's GPS source
* ``sight``    -- what a moving camera sees: the bearing to a place, and whether it is in the camera's view
"""
