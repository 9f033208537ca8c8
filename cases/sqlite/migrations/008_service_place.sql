-- Duplicate detection looks for open cases of one service near a place:
-- by service, then latitude, instead of every case of the service in the
-- last 30 days.
CREATE INDEX cases_service_place ON cases (service_code, lat, long);
