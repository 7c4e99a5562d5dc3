"""Preparation: getting a line ready for a run before it is authorized, and what it consumed.

readiness (PRECHECK/FORMAL checks and waivers, the authorize gate), loading (slot tables, reel
scans, replacement, slot locks), consumables (stencil/paste bindings, stencil/paste/equipment
statuses incl. degraded-mode entries), genealogy (material use per board, lot recall).
"""
