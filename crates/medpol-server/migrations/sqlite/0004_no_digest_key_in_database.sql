-- The request-digest key no longer lives in the database (whoever could read
-- the database could reverse a digest by hashing candidate diagnoses); it is
-- given to the service from a file or the environment. Forget the old one.
DELETE FROM service_secrets WHERE name = 'request-digest';
