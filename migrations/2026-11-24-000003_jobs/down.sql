DROP TABLE imports;
DROP TABLE outbox;
DROP TABLE jobs;
