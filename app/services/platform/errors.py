"""The one error catalogue: code → default HTTP status, default message, and what the user should do.

The API error envelope, the console's flash messages and the SOP error catalogue
(`sop/error-catalogue.md`, kept in sync by a test) all come from here. HTTP status is 400 unless
noted. Codes about a resource carry `path_param`: when that parameter is part of the request's URL
path the API answers 404 instead (an unknown run in the path is 404, an unknown run in the body 400).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class ErrorEntry:
    code: str
    status: int
    message: str
    hint: str
    path_param: Optional[str] = None


CATALOGUE: dict[str, ErrorEntry] = {}


def _e(code: str, status: int, message: str, hint: str, path_param: str | None = None) -> None:
    CATALOGUE[code] = ErrorEntry(code, status, message, hint, path_param)


# --- common ------------------------------------------------------------------------------------
_e("UNAUTHORIZED", 401, "Not signed in, or the credentials are invalid or expired.",
   "Sign in again (API clients: log in for a new token, or check the API key).")
_e("ACCOUNT_LOCKED", 401, "This account is locked after repeated failed sign-ins.",
   "Wait 5 minutes and try again, or ask your line leader (or an administrator) to unlock the account.")
_e("FORBIDDEN", 403, "You do not have permission for this action, or it is outside your lines/stations.",
   "Ask your supervisor or an administrator for the permission or the line/station binding.")
_e("NOT_FOUND", 404, "Nothing exists at this address.", "Check the address or the code you typed.")
_e("METHOD_NOT_ALLOWED", 405, "This address does not accept this method.", "Check the API reference (Swagger UI).")
_e("VALIDATION_ERROR", 422, "The request is not valid.",
   "Correct the fields listed in the details and send it again.")
_e("INPUT_INVALID_KEY", 422, "A code, number or SN has characters that are not allowed, or is empty.",
   "Use letters, digits and - _ . : + # only: no spaces, no /, no control characters (a field code in "
   "VALIDATION_ERROR's details.codes).")
_e("INPUT_TOO_LONG", 422, "A value is longer than the field takes.",
   "Shorten it: codes have at most 64 characters (SNs and run numbers 80, slot codes 32), texts 2000 "
   "(a field code in VALIDATION_ERROR's details.codes).")
_e("INPUT_INVALID_TEXT", 422, "A text contains control characters.",
   "Type plain text; line breaks and tabs are fine in descriptions (a field code in VALIDATION_ERROR's "
   "details.codes).")
_e("INPUT_OUT_OF_RANGE", 422, "A number is not finite or outside the field's range.",
   "Enter a value within the range given in the message, e.g. quantities 1 to 1,000,000 (a field code in "
   "VALIDATION_ERROR's details.codes).")
_e("EVENT_TIME_OUT_OF_WINDOW", 422, "An event time is too far in the past or in the future.",
   "Send the time the status really changed: at most MES_EVENT_MAX_AGE_DAYS (30) days ago and "
   "MES_EVENT_MAX_FUTURE_MINUTES (10) minutes ahead; check the sending machine's clock (a field code in "
   "VALIDATION_ERROR's details.codes).")
_e("RATE_LIMITED", 429, "Too many attempts from this address.", "Wait a minute and try again.")
_e("CSRF_FAILED", 400, "The form or page has expired (security token missing or invalid).",
   "Reload the page and try again.")
_e("INTERNAL_ERROR", 500, "Something went wrong on the server.",
   "Try again; if it repeats, give the request id to IT support.")
_e("REQUEST_TOO_LARGE", 413, "The request body is larger than the server takes (MES_MAX_REQUEST_MB).",
   "Send less data per request (split the file or the list), or have IT import it with `flask mes import`.")
_e("JSON_TOO_DEEP", 400, "The JSON body is nested too deeply.",
   "Send a flatter document: the API's bodies are nested a few levels at most (limit in the message).")
_e("URI_TOO_LONG", 414, "The request address (path and query) is too long.",
   "Shorten the query: fewer or shorter filters; send long lists in a POST body.")
_e("BAD_REQUEST", 400, "The request is not valid HTTP (its request line or headers); the web server refused it.",
   "Use a standard HTTP client; check a proxy or scanner gateway that rewrites requests.")
_e("HEADERS_TOO_LARGE", 431, "The request's headers are too many or too large.",
   "Send fewer or shorter headers (e.g. clear the browser's cookies for this site).")
_e("INVALID_TEXT", 400, "The request carries text that is not valid Unicode (a lone surrogate or a NUL character).",
   "Send well-formed UTF-8 text; check the scanner or the client's encoding.")
_e("PASSWORD_TOO_WEAK", 422, "The password does not meet the password policy.",
   "Use at least 10 characters with 2 capital letters, 3 lower-case letters, 2 digits and a special character.")
_e("USER_NOT_FOUND", 400, "No user with this username.", "Check the username.", "username")
_e("USERNAME_DUPLICATE", 409, "A user with this username or e-mail already exists.", "Choose another username or e-mail.")
_e("ROLE_NOT_FOUND", 400, "No role with this name.", "Check the role name (`flask mes sync-roles` creates the preset roles).")
_e("SIGNATURE_REQUIRED", 422, "This action is an electronic signature: the signer's password is missing.",
   "Type your own password in the password field (API: `password` in the body) and send it again.")
_e("SIGNATURE_INVALID", 403, "The password is not correct, or this account cannot sign: nothing was signed.",
   "Type your own password again. Repeated wrong passwords lock the account (as for sign-in).")
_e("SIGNATURE_LOCKED", 403, "This account is locked after repeated wrong passwords: nothing was signed.",
   "Wait 5 minutes, or ask the line leader or an administrator to unlock the account.")
_e("DATABASE_BUSY", 503, "The database was busy with other changes for too long; nothing was saved.",
   "Try again in a moment. If it keeps happening, tell IT support (a long import or backup may be running).")

# --- master data (02_rules §0) -----------------------------------------------------------------
for _entity, _label in (
    ("PRODUCT", "product"), ("MATERIAL", "material"), ("LINE", "line"),
    ("STATION_GROUP", "station group"), ("STATION", "station"), ("OPERATION", "operation"),
    ("EQUIPMENT", "equipment"), ("DEFECT_CODE", "defect code"),
):
    _article = "An" if _label[0] in "aeiou" else "A"
    _e(f"{_entity}_CODE_DUPLICATE", 409, f"{_article} {_label} with this code already exists.",
       f"Use another code, or edit the existing {_label}.")
    _e(f"{_entity}_IN_USE", 409, f"This {_label} is referenced by other records and cannot be deleted.",
       "Move its stations to another group first." if _entity == "STATION_GROUP"
       else f"Deactivate the {_label} instead of deleting it.")
_e("BOM_ITEM_DUPLICATE", 409, "This material is already on the product's BOM.",
   "Edit the existing BOM line instead of adding a second one.")
_e("MATERIAL_LOT_DUPLICATE", 409, "This lot number already exists for the material.",
   "Edit the existing lot, or check the lot number.")
_e("MATERIAL_LOT_IN_USE", 409, "This lot is referenced by other records and cannot be deleted.",
   "Keep the lot; set its IQC result instead.")
_e("DEFECT_CODE_SYSTEM", 409, "This defect code is used by the system itself and must stay active.",
   "Keep it; create another code if you need a different one.")
_e("MASTER_DATA_CONFLICT", 409, "The database refused the change: another change made at the same time conflicts "
   "with it. Nothing was saved.", "Reload the record to see its current state, then make the change again.")
_e("EQUIPMENT_STATION_DUPLICATE", 409, "The station already has an equipment (at most one per station).",
   "Edit the existing equipment of that station, or choose another station.")

# --- routing, execution config, data specs (02_rules §1) ---------------------------------------
_e("ROUTE_NOT_FOUND", 400, "No routing found.", "Check the routing code, or create/activate a routing for the product.",
   "routing_code")
_e("ROUTING_CODE_DUPLICATE", 409, "A routing with this code already exists.", "Use another code.")
_e("ROUTING_EMPTY", 400, "The routing has no steps.", "Add at least one step, then compile.")
_e("ROUTE_READ_ONLY", 400, "The steps of an ERP routing cannot be changed in MES.",
   "Change the routing in ERP; execution config can still be set here.")
_e("STATION_TYPE_MISSING", 400, "A step has no station type.", "Set the station type on the step or in its execution config.")
_e("STATION_CONSTRAINT_MISSING", 400, "A step has neither a station group nor allowed stations.",
   "Set a station group or allowed stations for the step.")
_e("DATA_SPEC_INACTIVE", 400, "A bound data-collection spec is inactive.", "Activate the spec or unbind it.")
_e("DATA_SPEC_OPERATION_MISMATCH", 400, "A bound data-collection spec belongs to another operation.",
   "Bind a spec of the step's own operation.")
_e("DATA_SPEC_NAME_DUPLICATE", 409, "A spec with this name already exists for the operation.", "Choose another name.")
_e("DATA_SPEC_LIMITS_INVALID", 400, "The limits must satisfy lsl ≤ target ≤ usl (numbers only).", "Correct the limits.")
_e("DATA_SPEC_IN_USE", 409, "Values were collected for this spec; it cannot be deleted.", "Deactivate the spec instead.")
_e("SPC_SPEC_NOT_FOUND", 404, "No such data-collection spec.", "Check the spec id (Engineering → Data Collection Specs).")
_e("SPC_SPEC_NOT_NUMERIC", 400, "Only NUMBER specs can be charted.", "Choose a numeric spec.")
_e("SPC_ALARM_NOT_FOUND", 404, "No such SPC alarm.", "Check the alarm id (Quality → SPC Alarms).")
_e("SPC_ALARM_ALREADY_ACKNOWLEDGED", 409, "The SPC alarm is already acknowledged.",
   "Nothing to do: reload Quality → SPC Alarms to see who acknowledged it and why.")
_e("SPC_CHART_NOT_CONFIGURED", 409, "The spec has no SPC chart yet.", "Configure its chart first (chart type, rules).")
_e("SPC_BASELINE_NO_SPREAD", 400, "The baseline period's values do not vary: no control limits can be computed.",
   "Check that the values are measured, not typed as a constant; choose a period with real measurements.")
_e("SPC_BASELINE_TOO_SHORT", 400, "The baseline period holds too few points for control limits.",
   "Choose a longer period (at least 20 plotted points), then recompute.")
_e("OPERATION_NOT_FOUND", 400, "No operation with this code.", "Check the operation code (Engineering → Operations).")
_e("STATION_GROUP_NOT_FOUND", 400, "No station group with this code.",
   "Check the station group code (Engineering → Station Groups).")
_e("ROUTING_STEP_NOT_FOUND", 400, "The routing has no step with this number.", "Reload the routing.", "step_no")
_e("ROUTING_STEP_DUPLICATE", 409, "The routing already has a step with this number.",
   "Use another step number (10, 20, 30…).")
_e("ROUTE_VERSION_NOT_FOUND", 400, "The routing has no version with this number.", "Reload the version history.",
   "version_no")
_e("DATA_SPEC_NOT_FOUND", 400, "The data item names no spec of the current step.",
   "Use a spec name listed for this step.", "spec_id")

# --- work orders (02_rules §2) -----------------------------------------------------------------
_e("WORK_ORDER_NOT_FOUND", 400, "No work order with this number.", "Check the work order number.", "wo_no")
_e("WORK_ORDER_COMPLETED", 400, "The work order is completed and cannot be changed.", "Create a new work order.")
_e("WORK_ORDER_EXISTS", 409, "A work order with this number already exists.",
   "Open the existing work order from the list, or enter another number (a new work order never overwrites one).")
_e("PRODUCT_NOT_FOUND", 400, "No product with this code.", "Check the product code or create the product first.")
_e("WORK_ORDER_NOT_RECEIVED", 400, "Only a RECEIVED work order can be released.", "Check the work order's status.")
_e("ROUTE_NOT_READY", 400, "The routing has no READY compiled version.", "Ask engineering to compile the routing.")
_e("LINE_NOT_FOUND", 400, "No line with this code.", "Check the line code.", "line_code")
_e("LINE_ROUTING_PROCESS_MISMATCH", 400, "The line's process type does not match the routing's.",
   "Release to a line of the routing's process type (SMT/DIP).")
_e("WORK_ORDER_HAS_NO_RUNS", 400, "The work order has no runs.", "Create and finish a run first.")
_e("WORK_ORDER_RUNS_NOT_TERMINAL", 409, "Some runs of the work order are not finished.",
   "Finish, close or cancel the listed runs first.")
_e("WORK_ORDER_SHORT", 409, "The work order has fewer good units than planned.",
   "Build the missing units in a new run, or confirm closing it short with a reason.")

# --- runs (02_rules §3) ------------------------------------------------------------------------
_e("RUN_NOT_FOUND", 400, "No run with this number.", "Check the run number.", "run_no")
_e("WORK_ORDER_NOT_RELEASED", 400, "The work order is not released.", "Release the work order to a line first.")
_e("WORK_ORDER_DISPATCH_LINE_MISMATCH", 400, "The run's line is not the line the work order was released to.",
   "Create the run on the dispatched line.")
_e("RUN_LINE_INCOMPATIBLE_WITH_ROUTE", 400, "The line has no valid station for some steps of the route.",
   "Ask engineering to add or activate, on this line, a station of the listed steps' station type and group "
   "(or to correct the steps' station constraints); work orders of this routing go to a line of its process "
   "type that has those stations.")
_e("QUANTITY_EXCEEDS_WORK_ORDER", 400, "The runs' quantities would exceed the work order quantity.",
   "Reduce the run quantity (or cancel an unused PREP run); a work order's planned quantity cannot go below "
   "what its runs already plan.")
_e("INVALID_RUN_STATUS", 400, "The run's status does not allow this action.", "Check the run's status in Run Detail.")
_e("QUANTITY_EXCEEDS_PLAN", 400, "More units than the run's plan quantity.", "Reduce the number of units.")
_e("UNIT_SN_DUPLICATE", 409, "A unit with this SN already exists.", "Use unique serial numbers.")
_e("RUN_NOT_READY", 400, "Only a run in PREP can be authorized.", "Check the run's status.")
_e("READINESS_CHECK_FAILED", 400, "The line readiness check has failed items.",
   "Fix the failed items (or have quality waive them), then check again.")
_e("FAI_NOT_PASSED", 400, "The first article inspection has not passed.", "Run the FAI to PASS first.")
_e("FAI_NOT_SIGNED", 400, "The passed FAI is not signed.", "Ask quality to sign the FAI.")
_e("RUN_ALREADY_STARTED", 400, "The run has started production and cannot be revoked.", "Close the run instead.")
_e("RUN_NOT_CANCELLABLE", 400, "Only a PREP run without tracks can be cancelled.", "Close the run instead.")
_e("RUN_NOT_CLOSABLE", 400, "The run cannot be closed in its current status.", "Check the run's status.")
_e("RUN_HAS_NO_UNITS", 400, "The run has no units.", "Generate or build units first, or cancel the run.")
_e("RUN_UNITS_NOT_TERMINAL", 400, "Some units are not DONE or SCRAPPED.", "Finish or disposition the remaining units.")
_e("OQC_REQUIRED", 409, "Outgoing quality control is required before the run can complete.",
   "Quality runs the OQC inspection of the sampled units.")

# --- execution (02_rules §4) -------------------------------------------------------------------
_e("RUN_NOT_AUTHORIZED", 400, "The run is not authorized for production.",
   "Authorize the run, or start an FAI for a trial.")
_e("FAI_TRIAL_STEP_NOT_ALLOWED", 400, "FAI trial units may only go up to the FAI step.", "Wait for the FAI decision.")
_e("FAI_TRIAL_LIMIT_REACHED", 400, "The FAI sample quantity of trial units is reached.", "Wait for the FAI decision.")
_e("STATION_NOT_FOUND", 400, "No station with this code.", "Check the station code.", "station_code")
_e("STATION_INACTIVE", 400, "The station is inactive.", "Use another station or ask engineering to activate it.")
_e("EQUIPMENT_UNAVAILABLE", 400, "The station's equipment is DOWN or in MAINTENANCE.",
   "Call maintenance, or use another station of the same group.")
_e("STATION_LINE_MISMATCH", 400, "The station is not on the run's line.", "Scan the unit at a station of its line.")
_e("UNIT_NOT_FOUND", 400, "Unknown SN.", "Check the label, or scan at the first step of an authorized run.", "sn")
_e("SCAN_NOT_A_BOARD", 400, "The scanned label is not a board's SN (a station, run, work order, product or reel label).",
   "Scan the board's SN label; the message says what was scanned.")
_e("UNIT_RUN_MISMATCH", 400, "The unit belongs to another run.", "Select the unit's own run.")
_e("UNIT_ALREADY_IN_STATION", 409, "The unit is already tracked in.", "Track it out first.")
_e("UNIT_ALREADY_DONE", 400, "The unit has finished its route.", "Put it aside for packing/OQC.")
_e("UNIT_DISPOSITION_REQUIRED", 400, "The unit failed and waits for a disposition.", "Hand it to quality.")
_e("UNIT_ON_HOLD", 400, "The unit is on hold.", "Hand it to quality.")
_e("UNIT_SCRAPPED", 400, "The unit is scrapped.", "Remove it from the line.")
_e("STEP_MISMATCH", 400, "The unit's current step is not in the run's route.", "Call the line leader.")
_e("STATION_MISMATCH", 400, "The unit's current step is not done at this station.",
   "Take the unit to the station named in the message.")
_e("TRACK_NOT_FOUND", 400, "The unit is not tracked in at this station.", "Track the unit in first.")
_e("DATA_VALUE_INVALID", 400, "A value does not match its spec's data type or options.", "Correct the value.")
_e("REQUIRED_DATA_MISSING", 400, "Required data is missing for a PASS.", "Enter the listed values.")
_e("DEFECT_CODE_REQUIRED", 400, "A FAIL needs a defect code.", "Pick the defect code.")
_e("DEFECT_CODE_NOT_FOUND", 400, "Unknown defect code.", "Pick a code from the list.")

# --- readiness, loading (02_rules §5, §6) ------------------------------------------------------
_e("NO_CHECK_FOUND", 404, "No readiness check of this kind for the run.", "Run a readiness check first.")
_e("READINESS_ITEM_NOT_FOUND", 400, "No readiness item with this id.", "Reload Run Detail.", "item_id")
_e("REASON_REQUIRED", 400, "A reason is required.", "Type the reason.")
_e("ITEM_NOT_FAILED", 400, "Only a FAILED item can be waived.", "Reload the check.")
_e("ITEM_NOT_WAIVABLE", 400, "This item cannot be waived.", "Fix the cause (ROUTE cannot be waived).")
_e("READINESS_ITEM_NOT_CURRENT", 400, "Only an item of the run's latest FORMAL check can be waived.",
   "Reload Run Detail and waive the item on the latest FORMAL check (a PRECHECK is advisory; run the FORMAL check).")
_e("LOADING_ALREADY_STARTED", 409, "Loading has started for this run.", "Continue scanning; use replace to change a reel.")
_e("FEEDER_SLOTS_NOT_FOUND", 400, "The line has no feeder slots.", "Ask engineering to define the feeder slots.")
_e("SLOT_MAPPING_MISSING", 400, "Some slots have no material mapping.", "Ask engineering to complete the slot table.")
_e("BARCODE_INVALID", 400, "The barcode cannot be read as MATERIAL|LOT.", "Scan the reel's lot label.")
_e("MATERIAL_LOT_NOT_FOUND", 400, "Unknown material lot.", "Check the reel label.", "lot_no")
_e("MSD_FLOOR_LIFE_EXPIRED", 409, "The reel's floor life is spent (moisture-sensitive device, J-STD-033): it "
   "must not be loaded.", "Take the reel off the line and have it baked; record the bake, then scan it again.")
_e("MSD_NOT_MOISTURE_SENSITIVE", 400, "The material has no floor-life clock (no moisture sensitivity level, or "
   "level 1).", "Check the material's MSL in Engineering → Materials, or record nothing for this reel.")
_e("PASTE_THAW_INCOMPLETE", 409, "The solder paste has not thawed long enough since it left the refrigerator "
   "(or no thaw start is recorded).", "Wait for the time left shown on the Loading Terminal (never open a cold jar), "
   "or record when the jar left the refrigerator (Loading Terminal → Solder paste → Thaw started).")
_e("PASTE_OPEN_EXPIRED", 409, "The solder paste has been open longer than its material's maximum open time.",
   "Take the paste off the line as the paste procedure says; bind a new, thawed jar and record its times.")
_e("PASTE_STENCIL_EXPIRED", 409, "The solder paste has been on the stencil longer than its material's maximum time.",
   "Remove the paste, clean the stencil and apply fresh paste (record On stencil again); a jar past its open "
   "time is replaced.")
_e("PASTE_LOT_NOT_BOUND", 409, "The paste lot is not the one bound to the line.",
   "Scan the jar of the lot bound to the line, or bind this lot first (Loading Terminal → Line consumables).")
_e("MATERIAL_LOT_AMBIGUOUS", 400, "The lot number matches several materials.", "Scan the full MATERIAL|LOT barcode.")
_e("SLOT_NOT_FOUND", 400, "No feeder slot with this code on the line.", "Scan the slot label.", "slot_code")
_e("SLOT_LOCKED", 409, "The slot is locked after 3 failed scans.", "Call the line leader to unlock it.")
_e("SLOT_EXPECTATION_MISSING", 400, "The slot is not in the run's slot table.", "Load the slot table first.")
_e("SLOT_ALREADY_LOADED", 409, "The slot is already loaded for this run.", "Use replace to change the reel.")
_e("EQUIPMENT_NOT_FOUND", 400, "No equipment with this code.", "Check the equipment code (Engineering → Station Equipment).")
_e("SLOT_NOT_LOADED", 400, "The slot is not loaded yet.", "Scan the reel (verify) instead of replacing.")
_e("FEEDER_SLOT_DUPLICATE", 409, "The line already has a feeder slot with this code.",
   "Use another slot code, or edit the existing slot.")
_e("FEEDER_SLOT_IN_USE", 409, "Runs have loaded this slot; it cannot be deleted.",
   "Keep the slot (the trace needs it); remove its slot-table lines instead.")
_e("SLOT_MAPPING_DUPLICATE", 409, "The slot table already has this material for this slot, product and routing.",
   "Edit the existing slot-table line (priority, alternate) instead of adding a second one.")

# --- quality (02_rules §7, §8, §9) -------------------------------------------------------------
_e("INSPECTION_NOT_FOUND", 400, "No inspection with this id.", "Reload the page.", "inspection_id")
_e("FAI_ALREADY_EXISTS", 409, "The run already has an open FAI.", "Continue the open FAI.")
_e("FAI_NOT_REQUIRED", 400, "The route has no FAI step.", "Authorize the run directly.")
_e("FAI_NOT_INSPECTING", 400, "The FAI is not in progress.", "Start the FAI first.")
_e("FAI_TRIAL_REQUIRED", 400, "Trial units have not finished the FAI step.", "Build the trial units through the FAI step.")
_e("FAI_ITEMS_MISSING", 400, "Every trial unit needs at least one inspection item.", "Record the missing items.")
_e("INSPECTION_FAILURES_EXIST", 400, "FAIL items or SPI/AOI failures exist.", "Decide FAIL, or resolve the failures.")
_e("INVALID_FAI_DECISION", 400, "A FAIL decision needs a FAIL item or a remark.", "Add a remark.")
_e("FAI_ALREADY_SIGNED", 400, "The FAI is already signed.", "Nothing to do.")
_e("INSPECTION_STATE_INVALID", 400, "The inspection's status does not allow this.", "Reload the inspection.")
_e("OQC_NOT_INSPECTING", 400, "The OQC is not in progress.", "Start the OQC first.")
_e("UNIT_NOT_IN_SAMPLE", 400, "The unit is not in the OQC sample.", "Inspect the sampled SNs only.")
_e("OQC_ITEMS_MISSING", 400, "Every sampled unit needs an item.", "Record the missing items.")
_e("INVALID_OQC_DECISION", 400, "A FAIL decision needs a FAIL item or a remark.", "Add a remark.")
_e("DEFECT_NOT_FOUND", 400, "No defect with this id.", "Reload the defect queue.", "defect_id")
_e("UNIT_IN_STATION", 400, "The unit is tracked in.", "Track it out FAIL instead.")
_e("ALREADY_DISPOSITIONED", 400, "The defect already has a disposition.", "Reload the defect queue.")
_e("UNIT_STATE_INVALID", 400, "The unit's status does not allow this.", "Check the unit's trace.")
_e("REWORK_STEP_INVALID", 400, "The rework step is not a valid step.", "Pick a step at or before the failure step.")
_e("REWORK_LIMIT_REACHED", 400, "The unit reached the rework limit.", "Scrap or hold the unit.")
_e("REWORK_TASK_NOT_FOUND", 400, "No rework task with this id.", "Reload the page.", "task_id")
_e("REWORK_TASK_NOT_OPEN", 400, "The rework task is not open any more.", "Reload the page: it is done or cancelled.")
_e("DEFECT_NOT_ON_HOLD", 400, "The defect is not on hold.", "Release a defect whose disposition is HOLD (reload the defect queue).")
_e("DEFECTS_REQUIRED", 400, "A FAIL result needs at least one defect.", "Add the defects.")
_e("REASON_TOO_SHORT", 400, "The reason must have at least 4 characters.", "Write a meaningful reason.")
_e("RUN_NOT_ON_HOLD", 400, "The run is not ON_HOLD.", "MRB decides on held runs only.")
_e("NO_FAILED_OQC", 400, "The run's latest OQC did not fail.", "Check the run's inspections.")
_e("REWORK_TYPE_REQUIRED", 400, "REWORK needs a rework type.", "Choose REUSE_PREP or FULL_PREP.")
_e("FAI_WAIVER_NOT_ALLOWED", 400, "An FAI waiver is only allowed for REWORK with FULL_PREP.", "Remove the waiver.")
_e("FAI_WAIVER_REASON_REQUIRED", 400, "An FAI waiver needs a reason.", "Type the waiver reason.")
_e("SAMPLING_RULE_NOT_FOUND", 400, "No sampling rule with this id.", "Reload the page.", "rule_id")
_e("OQC_SAMPLING_RULE_IN_USE", 409, "OQC inspections were sampled with this rule; it cannot be deleted.",
   "Deactivate the rule instead (untick Active).")

# --- master-data import --------------------------------------------------------------------------
_e("REPORT_PERIOD_INVALID", 400, "The report period is not valid.",
   "Choose a start before the end; hour buckets cover at most 31 days, shifts 92, days 366.")
_e("IMPORT_FILE_UNREADABLE", 400, "The file is not a CSV (UTF-8) or XLSX workbook that can be read.",
   "Save it from the spreadsheet program as .xlsx or as CSV UTF-8, or start from the template.")
_e("IMPORT_FILE_TOO_LARGE", 400, "The file has more rows than one import takes.",
   "Split it into smaller files; on the console, import large files with `flask mes import` instead.")
_e("IMPORT_EMPTY", 400, "The file has no data rows.", "Fill in the rows under the header row and import it again.")
_e("IMPORT_SHEET_UNKNOWN", 400, "A sheet or file does not match any master-data list.",
   "Name the sheet after its list (Products, Materials, …) or keep the template's header row exactly.")
_e("IMPORT_COLUMN_UNKNOWN", 400, "A column header is not one of the list's columns.",
   "Use the headers of the template or of the list's export; delete or rename the extra column.")
_e("IMPORT_KEY_COLUMN_MISSING", 400, "A column of the list's business key is missing.",
   "Add the key columns (e.g. Code; Material and Lot no for lots): they say which record a row is.")
_e("IMPORT_VALUE_INVALID", 400, "A cell's value is not of the column's kind (number, yes/no, date, …).",
   "Correct the cell named in the details and import the file again.")
_e("IMPORT_REFERENCE_NOT_FOUND", 400, "A cell names a record that does not exist (e.g. an unknown material).",
   "Create that record first, or add it to the same workbook (its sheet is imported first).")
_e("IMPORT_ROW_DUPLICATE", 400, "The same record (business key) is in the file twice.",
   "Keep one row per record: delete or merge the duplicate row named in the details.")
_e("IMPORT_REFUSED", 400, "Rows of the file were refused: nothing was imported.",
   "Run the dry run, correct every refused row it lists (row, column, code), then import again.")

# --- audit ------------------------------------------------------------------------------------
_e("AUDIT_APPEND_ONLY", 409, "Audit events can never be changed or deleted.", "Archive old events instead.")
_e("AUDIT_ARCHIVE_NOT_PAST", 400, "An audit archive ends at the start of a day that has begun already.",
   "Give --before a date not later than today (UTC), e.g. the first day of the month.")
_e("AUDIT_ARCHIVE_ALREADY_COVERED", 409, "The archives already cover the audit events before this date.",
   "Give a later --before date (the Audit Log lists the archives and the date they reach).")
_e("AUDIT_ARCHIVE_FILE_EXISTS", 409, "An archive file of this name exists already in the target folder.",
   "It is not a recorded archive: move it away (or use another folder), then run the command again.")
_e("AUDIT_ARCHIVE_WRITE_FAILED", 400, "The archive file could not be written.",
   "Check that the folder exists or can be created, that the service user may write to it and that the "
   "disk has room (details: the system's message).")
_e("AUDIT_ARCHIVE_CONFLICT", 409, "Another audit archive was recorded while this one was being written.",
   "Run the command again: it then exports what that archive left.")


class StaleSecurity(Exception):
    """The request was authorised with an actor cached before the latest security change (the version
    read in the request's own write transaction differs): nothing was changed; authenticate again and
    redo the request (api/base.py `requires`)."""


class DomainError(Exception):
    """A business rule refused the request. `message` and `details` speak to the user. `message` is
    English; made with `messages.M(...)` it also carries its template, and the web layer shows it in the
    request's language (app/web/i18n.py `error_text`)."""

    def __init__(self, code: str, message: str | None = None, details: dict[str, Any] | None = None,
                 status: int | None = None) -> None:
        entry = CATALOGUE.get(code)
        if entry is None:
            raise KeyError(f"error code {code!r} is not in the catalogue")
        self.code = code
        self.entry = entry
        self.message = message or entry.message
        self.details = details or {}
        self.status = status or entry.status
        super().__init__(self.message)

    def http_status(self, path_params: dict | None = None) -> int:
        """The default status, or 404 when the code is about a resource named in the URL path."""
        if self.entry.path_param and path_params and self.entry.path_param in path_params:
            return 404
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return str(self.message)


def hint_for(code: str) -> str:
    entry = CATALOGUE.get(code)
    return entry.hint if entry else ""


def catalogue_markdown(translate: Callable[[str], str] | None = None, header: list[str] | None = None) -> str:
    """The SOP error catalogue (sop/error-catalogue.md), generated from this module; a test keeps the
    file in sync (`flask mes error-catalogue --write` regenerates it). With `translate` (and a
    translated `header`) the same table in another language: the Help screen's error catalogue for a
    Chinese user (app/views/help.py); the codes stay as they are."""
    tr = translate or (lambda text: text)
    lines = header or [
        "# Error catalogue",
        "",
        "Every error code the API and the console can answer with: the HTTP status, what it means, and",
        "what the user should do. Generated from `app/services/platform/errors.py` by",
        "`flask mes error-catalogue --write`; do not edit by hand.",
        "",
        "A code about a resource named in the address (for example an unknown run in",
        "`/api/v1/runs/{runNo}`) answers 404 instead of its usual status.",
        "",
        "| Code | HTTP | Meaning | What to do |",
        "|---|---|---|---|",
    ]
    lines = list(lines)
    for code in sorted(CATALOGUE):
        entry = CATALOGUE[code]
        status = f"{entry.status}" + (f" {tr('(404 in path)')}" if entry.path_param else "")
        message, hint = (tr(text).replace("|", "\\|") for text in (entry.message, entry.hint))
        lines.append(f"| `{code}` | {status} | {message} | {hint} |")
    return "\n".join(lines) + "\n"
