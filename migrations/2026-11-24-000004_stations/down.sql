DROP TABLE nfc_stations;
