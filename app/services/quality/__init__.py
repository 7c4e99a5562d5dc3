"""Quality: proving and deciding on what production built.

inspections (FAI and the shared inspection lifecycle), oqc (the OQC at closeout and its decision),
inspection_results (SPI/AOI results and forced FAILs), defects (manual defects, dispositions, rework
tasks), mrb (decisions on held runs).
"""
