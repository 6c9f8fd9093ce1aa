ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('import'));
ALTER TABLE jobs DROP COLUMN subject_type, DROP COLUMN subject_id;
DROP TABLE settings;
DROP TABLE activities;
DROP FUNCTION activities_append_only();
