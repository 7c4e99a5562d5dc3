"""Web helpers shared by the REST API (app/api) and the console (app/views): query-string filters
and paging, and CSV/XLSX exports. Neither side imports the other; both import these."""
