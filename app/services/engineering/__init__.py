"""Engineering: the master data and how a product is built, frozen into executable route versions.

master_data (field, reference and uniqueness rules of every record; the active-defect-code check),
data_specs (data-collection specs), routing (routings, execution config, compile), route_plans (the
frozen snapshot of a version, parsed once per process), erp_routings (ERP routing import),
oqc_rules (OQC sampling rules: matching and sample size).
"""
