DROP TABLE IF EXISTS reservation_events;
DROP TABLE IF EXISTS reservations;
