DROP TABLE audit_events;
DROP FUNCTION refuse_mutation();
DROP TABLE customer_holds;
DROP TABLE contacts;
DROP TABLE customers;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE users;
