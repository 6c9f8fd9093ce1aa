DROP TABLE aging_snapshots;
