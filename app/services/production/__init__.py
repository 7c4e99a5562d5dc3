"""Production: work orders, runs and the hot path that builds units.

work_orders (receive, release, close), runs (create, authorize, closeout, rework runs; the run read
functions), execution (TrackIn/TrackOut with data collection), trace (the unit trace), and
extension_points (the lists through which preparation and quality take part, filled by
services/wiring.py).
"""
