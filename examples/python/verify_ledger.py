#!/usr/bin/python3
"""Independent verifier of a libctm audit ledger.

Written from docs/audit-format.md alone: no libctm code, only Python's sqlite3 and hashlib and
Ed25519 from Debian's python3-cryptography.  Section numbers (§) refer to that document.

    python3 verify_ledger.py DB --key VKEY [--checkpoint FILE]

VKEY is the site's verifier key "<name>+<key id>+<base64 key>" (or a file holding it), kept
outside the database.  FILE is a signed checkpoint kept outside (a monitor's copy).  Prints
"OK: ..." and exits 0, or prints the first failure with its seq/table/key and exits 1.  When
monitors' cosignatures are stored (schema version 8, §6.5) it checks them too and prints the
largest witnessed size on a second line.
It knows schema versions 1 to 5 (PRAGMA user_version, §1.1) and refuses any other.
"""
import argparse
import base64
import hashlib
import os
import pathlib
import re
import sqlite3
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

APPLICATION_ID = 0x43544D31                       # §1: "CTM1"
SECRET = {"credentials"}                          # §3.3: the only secret table (versions 1 to 5)
SIGNED_ACTIONS = {"site.init", "user.add", "user.disable", "user.enable", "user.role",  # §4.4
                  "shipment.confirm", "shipment.receive_bulk", "expiry.extend", "user.reset",
                  "shipment.void", "dispense.confirm", "dispense.reverse", "dispense.record",
                  "subject.codebreak", "excursion.release", "excursion.reject",
                  "kit.destroy", "kit.destroy_witness", "shipback.dispatch",
                  "signoff.reconciliation"}
ABSENT, NULL, INT, REAL, TEXT, BLOB, DIGEST = range(7)  # §2.1 value tags
UNICODE_SPACES = {0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} | set(range(0x2000, 0x200B))

# §1.1: the rows (type, name, tbl_name, sql) of sqlite_master, byte for byte, per schema version
# (PRAGMA user_version).  Each version is the previous one's rows plus its migration's rows, but
# version 4, which rebuilds two tables.
MIGRATION_1 = [
    ("table", "site", "site", "CREATE TABLE site("
     "  id INTEGER PRIMARY KEY CHECK (id = 1),  name TEXT NOT NULL,  origin TEXT NOT NULL,"
     "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),  created_us INTEGER NOT NULL)"),
    ("table", "users", "users", "CREATE TABLE users("
     "  id INTEGER PRIMARY KEY,  username TEXT NOT NULL UNIQUE,  printed_name TEXT NOT NULL,"
     "  role TEXT NOT NULL CHECK (role IN"
     " ('admin','pharmacist','technician','investigator','monitor')),"
     "  unblinded INTEGER NOT NULL CHECK (unblinded IN (0, 1)),"
     "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
     "  failed_logins INTEGER NOT NULL DEFAULT 0,"
     "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),  created_us INTEGER NOT NULL)"),
    ("index", "sqlite_autoindex_users_1", "users", None),  # for UNIQUE (username); no sql
    ("table", "credentials", "credentials", "CREATE TABLE credentials("
     "  user_id INTEGER PRIMARY KEY REFERENCES users(id),  password_hash TEXT NOT NULL,"
     "  key_salt BLOB NOT NULL,  key_nonce BLOB NOT NULL,  sealed_key BLOB NOT NULL,"
     "  opslimit INTEGER NOT NULL,  memlimit INTEGER NOT NULL)"),
    ("table", "ledger", "ledger", "CREATE TABLE ledger("
     "  seq INTEGER PRIMARY KEY,  entry BLOB NOT NULL,  checkpoint TEXT,  frontier BLOB)"),
    ("view", "checkpoints", "checkpoints", "CREATE VIEW checkpoints AS"
     "  SELECT seq + 1 AS size, checkpoint AS note FROM ledger WHERE checkpoint IS NOT NULL"),
]

MIGRATION_2 = [
    ("table", "trials", "trials", "CREATE TABLE trials("
     "  id INTEGER PRIMARY KEY,  code TEXT NOT NULL UNIQUE,  title TEXT NOT NULL,"
     "  sponsor TEXT NOT NULL,  blinded INTEGER NOT NULL CHECK (blinded IN (0, 1)),"
     "  created_us INTEGER NOT NULL)"),
    ("index", "sqlite_autoindex_trials_1", "trials", None),
    ("table", "arms", "arms", "CREATE TABLE arms("
     "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
     "  code TEXT NOT NULL,  ratio INTEGER NOT NULL CHECK (ratio BETWEEN 1 AND 100),"
     "  UNIQUE (trial_id, code))"),
    ("index", "sqlite_autoindex_arms_1", "arms", None),
    ("table", "kit_types", "kit_types", "CREATE TABLE kit_types("
     "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
     "  code TEXT NOT NULL,  name TEXT NOT NULL,  dose_form TEXT,  strength TEXT,"
     "  units INTEGER NOT NULL CHECK (units > 0),  storage_min_mc INTEGER NOT NULL,"
     "  storage_max_mc INTEGER NOT NULL,  dnd_days INTEGER NOT NULL CHECK (dnd_days >= 0),"
     "  budget_minutes INTEGER,  budget_max_mc INTEGER,  dispensing_days INTEGER,"
     "  UNIQUE (trial_id, code))"),
    ("index", "sqlite_autoindex_kit_types_1", "kit_types", None),
    ("table", "locations", "locations", "CREATE TABLE locations("
     "  id INTEGER PRIMARY KEY,  name TEXT NOT NULL UNIQUE,  kind TEXT NOT NULL,"
     "  min_mc INTEGER NOT NULL,  max_mc INTEGER NOT NULL)"),
    ("index", "sqlite_autoindex_locations_1", "locations", None),
    ("table", "lots", "lots", "CREATE TABLE lots("
     "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
     "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),  batch TEXT NOT NULL,"
     "  expiry TEXT NOT NULL,  gtin TEXT,  UNIQUE (trial_id, batch))"),
    ("index", "sqlite_autoindex_lots_1", "lots", None),
    ("table", "shipments", "shipments", "CREATE TABLE shipments("
     "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
     "  number TEXT NOT NULL,  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),"
     "  origin TEXT,  destination TEXT,  date_received TEXT,  registered_us INTEGER NOT NULL,"
     "  location_id INTEGER REFERENCES locations(id),"
     "  excursion INTEGER NOT NULL DEFAULT 0 CHECK (excursion IN (0, 1)),"
     "  status TEXT NOT NULL CHECK (status IN ('receiving', 'confirmed', 'sent')),"
     "  UNIQUE (direction, number))"),
    ("index", "sqlite_autoindex_shipments_1", "shipments", None),
    ("table", "kits", "kits", "CREATE TABLE kits("
     "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
     "  kit_number TEXT NOT NULL,  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
     "  lot_id INTEGER NOT NULL REFERENCES lots(id),  arm TEXT,  status TEXT NOT NULL,"
     "  location_id INTEGER REFERENCES locations(id),  units INTEGER NOT NULL CHECK (units >= 0),"
     "  expiry TEXT,  gtin TEXT,  serial TEXT,  shipment_id INTEGER REFERENCES shipments(id),"
     "  checked INTEGER NOT NULL DEFAULT 0,  UNIQUE (trial_id, kit_number))"),
    ("index", "sqlite_autoindex_kits_1", "kits", None),
    ("index", "kits_by_shipment", "kits", "CREATE INDEX kits_by_shipment ON kits(shipment_id)"),
    ("index", "kits_by_status", "kits", "CREATE INDEX kits_by_status ON kits(status)"),
    ("table", "kit_moves", "kit_moves", "CREATE TABLE kit_moves("
     "  id INTEGER PRIMARY KEY,  kit_id INTEGER NOT NULL REFERENCES kits(id),"
     "  from_location_id INTEGER REFERENCES locations(id),"
     "  to_location_id INTEGER REFERENCES locations(id),  moved_us INTEGER NOT NULL,"
     "  shipment_id INTEGER REFERENCES shipments(id),  reason TEXT)"),
    ("index", "kit_moves_by_kit", "kit_moves",
     "CREATE INDEX kit_moves_by_kit ON kit_moves(kit_id)"),
    ("table", "bulk_stock", "bulk_stock", "CREATE TABLE bulk_stock("
     "  id INTEGER PRIMARY KEY,  lot_id INTEGER NOT NULL REFERENCES lots(id),"
     "  location_id INTEGER NOT NULL REFERENCES locations(id),"
     "  units INTEGER NOT NULL CHECK (units >= 0),  UNIQUE (lot_id, location_id))"),
    ("index", "sqlite_autoindex_bulk_stock_1", "bulk_stock", None),
    ("table", "discrepancies", "discrepancies", "CREATE TABLE discrepancies("
     "  id INTEGER PRIMARY KEY,  shipment_id INTEGER NOT NULL REFERENCES shipments(id),"
     "  kit_number TEXT,  kind TEXT NOT NULL CHECK (kind IN ('missing', 'extra', 'damaged',"
     " 'lot_mismatch',    'expiry_mismatch')),  detail TEXT NOT NULL,"
     "  recorded_us INTEGER NOT NULL,  recorded_by TEXT NOT NULL)"),  # 4 spaces: a C line break
]

MIGRATION_3 = []  # §11: salted entries (entry version 2); no change to the schema

# §1.1: kits.status takes only the statuses of libctm's transition table, by a CHECK.  SQLite adds
# one only by rebuilding the table: kits and kit_moves (which references it) are made again, so
# their rows and their indexes' leave version 3's list and come back at its end, kits changed.
REBUILT_4 = {"kits", "kit_moves"}
KITS_4 = ("table", "kits", "kits", "CREATE TABLE kits("
          "  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),"
          "  kit_number TEXT NOT NULL,  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
          "  lot_id INTEGER NOT NULL REFERENCES lots(id),  arm TEXT,"
          "  status TEXT NOT NULL CHECK (status IN ('in_transit', 'received', 'available',"
          " 'dispensed', 'returned', 'pending_destruction', 'destroyed', 'returned_to_sponsor',"
          " 'quarantined', 'damaged', 'missing', 'lost_by_subject', 'expired', 'not_dispensed')),"
          "  location_id INTEGER REFERENCES locations(id),  units INTEGER NOT NULL CHECK (units >= 0),"
          "  expiry TEXT,  gtin TEXT,  serial TEXT,  shipment_id INTEGER REFERENCES shipments(id),"
          "  checked INTEGER NOT NULL DEFAULT 0,  UNIQUE (trial_id, kit_number))")
# The rebuilt tables' rows as version 2 made them, kits' own text the new one.
MIGRATION_4 = [KITS_4 if row[:2] == ("table", "kits") else row
               for row in MIGRATION_2 if row[2] in REBUILT_4]

# §1.1: randomization and subjects.
MIGRATION_5 = [
    ("table", "rand_schemes", "rand_schemes", "CREATE TABLE rand_schemes(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id)"
     ",  method TEXT NOT NULL CHECK (method IN ('list', 'minimization'))"
     ",  source TEXT NOT NULL  CHECK (source IN ('generated', 'sponsor', 'blockrand', 'minimization'))"
     ",  strata TEXT NOT NULL,  seed BLOB,  block_sizes TEXT,  weights TEXT,  imbalance TEXT"
     ",  p REAL,  created_us INTEGER NOT NULL)"),
    ("index", "sqlite_autoindex_rand_schemes_1", "rand_schemes", None),
    ("table", "subjects", "subjects", "CREATE TABLE subjects(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL REFERENCES trials(id),  screening TEXT NOT NULL"
     ",  strata TEXT NOT NULL"
     ",  status TEXT NOT NULL  CHECK (status IN ('enrolled', 'randomized', 'withdrawn', 'completed'))"
     ",  rand_number TEXT,  arm TEXT,  draw INTEGER,  enrolled_us INTEGER NOT NULL"
     ",  randomized_us INTEGER,  ended_us INTEGER,  dose_level INTEGER"
     ",  titrations INTEGER NOT NULL DEFAULT 0,  titrated_us INTEGER"
     ",  on_hold INTEGER NOT NULL DEFAULT 0 CHECK (on_hold IN (0, 1))"
     ",  UNIQUE (trial_id, screening),  UNIQUE (trial_id, rand_number))"),
    ("index", "sqlite_autoindex_subjects_1", "subjects", None),
    ("index", "sqlite_autoindex_subjects_2", "subjects", None),
    ("table", "rand_list", "rand_list", "CREATE TABLE rand_list(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL REFERENCES trials(id),  stratum TEXT NOT NULL"
     ",  position INTEGER NOT NULL,  number TEXT NOT NULL,  block INTEGER,  block_size INTEGER"
     ",  arm TEXT NOT NULL,  subject_id INTEGER UNIQUE REFERENCES subjects(id)"
     ",  UNIQUE (trial_id, number),  UNIQUE (trial_id, stratum, position))"),
    ("index", "sqlite_autoindex_rand_list_1", "rand_list", None),
    ("index", "sqlite_autoindex_rand_list_2", "rand_list", None),
    ("index", "sqlite_autoindex_rand_list_3", "rand_list", None),
    ("index", "rand_list_free", "rand_list", "CREATE INDEX rand_list_free ON rand_list(trial_id, stratum, position)  WHERE +subject_id IS NULL"),
    ("table", "kit_list", "kit_list", "CREATE TABLE kit_list(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL REFERENCES trials(id),  kit_number TEXT NOT NULL"
     ",  arm TEXT NOT NULL,  UNIQUE (trial_id, kit_number))"),
    ("index", "sqlite_autoindex_kit_list_1", "kit_list", None),
    ("table", "visits", "visits", "CREATE TABLE visits(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL REFERENCES trials(id),  code TEXT NOT NULL"
     ",  position INTEGER NOT NULL,  day INTEGER NOT NULL"
     ",  anchor TEXT NOT NULL CHECK (anchor IN ('randomization', 'previous'))"
     ",  window_before INTEGER NOT NULL CHECK (window_before >= 0)"
     ",  window_after INTEGER NOT NULL CHECK (window_after >= 0),  UNIQUE (trial_id, code)"
     ",  UNIQUE (trial_id, position))"),
    ("index", "sqlite_autoindex_visits_1", "visits", None),
    ("index", "sqlite_autoindex_visits_2", "visits", None),
    ("table", "visit_kits", "visit_kits", "CREATE TABLE visit_kits(  id INTEGER PRIMARY KEY"
     ",  visit_id INTEGER NOT NULL REFERENCES visits(id)"
     ",  kit_type_id INTEGER REFERENCES kit_types(id)"
     ",  count INTEGER NOT NULL CHECK (count BETWEEN 1 AND 100)"
     ",  UNIQUE (visit_id, kit_type_id))"),
    ("index", "sqlite_autoindex_visit_kits_1", "visit_kits", None),
    ("table", "dose_levels", "dose_levels", "CREATE TABLE dose_levels(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL REFERENCES trials(id),  level INTEGER NOT NULL"
     ",  kit_type_id INTEGER NOT NULL UNIQUE REFERENCES kit_types(id)"
     ",  UNIQUE (trial_id, level))"),
    ("index", "sqlite_autoindex_dose_levels_1", "dose_levels", None),
    ("index", "sqlite_autoindex_dose_levels_2", "dose_levels", None),
    ("table", "titration_rules", "titration_rules", "CREATE TABLE titration_rules(  id INTEGER PRIMARY KEY"
     ",  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id),  start_level INTEGER NOT NULL"
     ",  min_interval_days INTEGER NOT NULL CHECK (min_interval_days >= 0)"
     ",  max_titrations INTEGER NOT NULL CHECK (max_titrations >= 0))"),
    ("index", "sqlite_autoindex_titration_rules_1", "titration_rules", None),
    ("table", "dispensations", "dispensations", "CREATE TABLE dispensations(  id INTEGER PRIMARY KEY"
     ",  subject_id INTEGER NOT NULL REFERENCES subjects(id)"
     ",  visit_id INTEGER NOT NULL REFERENCES visits(id)"
     ",  kit_id INTEGER NOT NULL REFERENCES kits(id)"
     ",  status TEXT NOT NULL  CHECK (status IN ('assigned', 'dispensed', 'cancelled', 'replaced', 'reversed'))"
     ",  dose_level INTEGER,  assigned_us INTEGER NOT NULL,  dispensed_us INTEGER"
     ",  recorded_us INTEGER,  replaces_id INTEGER REFERENCES dispensations(id)"
     ",  override_reason TEXT,  reason TEXT)"),
    ("index", "dispensations_by_subject", "dispensations", "CREATE INDEX dispensations_by_subject ON dispensations(subject_id)"),
    ("index", "dispensations_by_kit", "dispensations", "CREATE INDEX dispensations_by_kit ON dispensations(kit_id)"),
    ("index", "kits_for_dispensing", "kits", "CREATE INDEX kits_for_dispensing ON kits(trial_id, kit_type_id, arm, status, id)"),
    ("index", "kits_by_number", "kits", "CREATE INDEX kits_by_number ON kits(kit_number)"),
    ("index", "kits_by_serial", "kits", "CREATE INDEX kits_by_serial ON kits(serial)"),
    ("table", "code_breaks", "code_breaks", "CREATE TABLE code_breaks(  id INTEGER PRIMARY KEY"
     ",  subject_id INTEGER NOT NULL REFERENCES subjects(id),  broken_us INTEGER NOT NULL"
     ",  broken_by TEXT NOT NULL,  reason TEXT NOT NULL)"),
]

# §1.1: temperatures (logger files, readings, daily summaries).
MIGRATION_6 = [
    ('table', 'logger_files', 'logger_files', 'CREATE TABLE logger_files(  id INTEGER PRIMARY KEY'
     ',  location_id INTEGER REFERENCES locations(id)'
     ',  shipment_id INTEGER REFERENCES shipments(id),  sha256 TEXT NOT NULL'
     ',  name TEXT NOT NULL,  format TEXT NOT NULL,  serial TEXT NOT NULL'
     ',  model TEXT NOT NULL,  interval_s INTEGER NOT NULL'
     ",  unit TEXT NOT NULL CHECK (unit IN ('C', 'F')),  zone TEXT NOT NULL"
     ',  readings INTEGER NOT NULL,  days INTEGER NOT NULL,  first_us INTEGER'
     ',  last_us INTEGER,  high_mc INTEGER,  high_minutes INTEGER,  low_mc INTEGER'
     ',  low_minutes INTEGER,  device_mkt_mc INTEGER,  device_energy_j INTEGER,  evidence TEXT'
     ',  imported_us INTEGER NOT NULL,  imported_by TEXT NOT NULL'
     ',  CHECK ((location_id IS NULL) <> (shipment_id IS NULL)))'),
    ('index', 'logger_files_by_location', 'logger_files', 'CREATE UNIQUE INDEX logger_files_by_location ON logger_files(location_id, sha256)  WHERE location_id IS NOT NULL'),
    ('index', 'logger_files_by_shipment', 'logger_files', 'CREATE UNIQUE INDEX logger_files_by_shipment ON logger_files(shipment_id, sha256)  WHERE shipment_id IS NOT NULL'),
    ('table', 'readings', 'readings', 'CREATE TABLE readings(  id INTEGER PRIMARY KEY'
     ',  file_id INTEGER NOT NULL REFERENCES logger_files(id)'
     ',  location_id INTEGER REFERENCES locations(id)'
     ',  shipment_id INTEGER REFERENCES shipments(id),  t_us INTEGER NOT NULL'
     ',  temp_mc INTEGER NOT NULL)'),
    ('index', 'readings_by_location', 'readings', 'CREATE UNIQUE INDEX readings_by_location ON readings(location_id, t_us)  WHERE location_id IS NOT NULL'),
    ('index', 'readings_by_shipment', 'readings', 'CREATE UNIQUE INDEX readings_by_shipment ON readings(shipment_id, t_us)  WHERE shipment_id IS NOT NULL'),
    ('table', 'logger_days', 'logger_days', 'CREATE TABLE logger_days(  id INTEGER PRIMARY KEY'
     ',  file_id INTEGER NOT NULL REFERENCES logger_files(id)'
     ',  location_id INTEGER REFERENCES locations(id)'
     ',  shipment_id INTEGER REFERENCES shipments(id),  day TEXT NOT NULL'
     ',  start_us INTEGER NOT NULL,  end_us INTEGER NOT NULL,  min_mc INTEGER,  min_us INTEGER'
     ',  max_mc INTEGER,  max_us INTEGER,  avg_mc INTEGER,  minutes_high INTEGER NOT NULL'
     ',  minutes_low INTEGER NOT NULL)'),
    ('index', 'logger_days_by_location', 'logger_days', 'CREATE UNIQUE INDEX logger_days_by_location ON logger_days(location_id, day)  WHERE location_id IS NOT NULL'),
    ('index', 'logger_days_by_shipment', 'logger_days', 'CREATE UNIQUE INDEX logger_days_by_shipment ON logger_days(shipment_id, day)  WHERE shipment_id IS NOT NULL'),
]

# §1.1: excursions (alarm settings, excursions, the kits recorded with them).
MIGRATION_7 = [
    ('table', 'location_alarms', 'location_alarms', 'CREATE TABLE location_alarms(  id INTEGER PRIMARY KEY,  location_id INTEGER NOT NULL UNIQUE REFERENCES locations(id),  delay_minutes INTEGER NOT NULL CHECK (delay_minutes BETWEEN 0 AND 1440),  max_gap_minutes INTEGER NOT NULL CHECK (max_gap_minutes BETWEEN 1 AND 10080))'),
    ('index', 'sqlite_autoindex_location_alarms_1', 'location_alarms', None),
    ('table', 'excursions', 'excursions', "CREATE TABLE excursions(  id INTEGER PRIMARY KEY,  location_id INTEGER REFERENCES locations(id),  shipment_id INTEGER REFERENCES shipments(id),  kind TEXT NOT NULL CHECK (kind IN ('high', 'low', 'mixed', 'unknown')),  daily INTEGER NOT NULL CHECK (daily IN (0, 1)),  start_us INTEGER NOT NULL,  end_us INTEGER NOT NULL,  ongoing INTEGER NOT NULL CHECK (ongoing IN (0, 1)),  minutes INTEGER NOT NULL,  degree_mc_minutes INTEGER,  min_mc INTEGER,  min_us INTEGER,  max_mc INTEGER,  max_us INTEGER,  readings INTEGER NOT NULL,  range_min_mc INTEGER NOT NULL,  range_max_mc INTEGER NOT NULL,  delay_minutes INTEGER NOT NULL,  max_gap_minutes INTEGER NOT NULL,  status TEXT NOT NULL CHECK (status IN ('open', 'released', 'rejected', 'decided')),  detected_us INTEGER NOT NULL,  detected_by TEXT NOT NULL,  decided_us INTEGER,  decided_by TEXT,  reference TEXT,  CHECK ((location_id IS NULL) <> (shipment_id IS NULL)))"),
    ('index', 'excursions_by_location', 'excursions', 'CREATE INDEX excursions_by_location ON excursions(location_id, start_us)'),
    ('index', 'excursions_by_shipment', 'excursions', 'CREATE INDEX excursions_by_shipment ON excursions(shipment_id, start_us)'),
    ('table', 'excursion_kits', 'excursion_kits', "CREATE TABLE excursion_kits(  id INTEGER PRIMARY KEY,  excursion_id INTEGER NOT NULL REFERENCES excursions(id),  kit_id INTEGER NOT NULL REFERENCES kits(id),  status_was TEXT NOT NULL,  quarantined INTEGER NOT NULL CHECK (quarantined IN (0, 1)),  decision TEXT CHECK (decision IN ('released', 'rejected')),  decided_us INTEGER,  decided_by TEXT,  reference TEXT,  UNIQUE (excursion_id, kit_id))"),
    ('index', 'sqlite_autoindex_excursion_kits_1', 'excursion_kits', None),
    ('index', 'excursion_kits_by_kit', 'excursion_kits', 'CREATE INDEX excursion_kits_by_kit ON excursion_kits(kit_id)'),
]

# §1.1: accountability (kit history, returns, destructions, returns to the sponsor,
# cosignatures, sign-offs).
MIGRATION_8 = [
    ('table', 'kit_events', 'kit_events', 'CREATE TABLE kit_events(  id INTEGER PRIMARY KEY,  kit_id INTEGER NOT NULL REFERENCES kits(id),  status TEXT NOT NULL,  at_us INTEGER NOT NULL,  by_user TEXT NOT NULL)'),
    ('index', 'kit_events_by_kit', 'kit_events', 'CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us)'),
    ('table', 'compliance_limits', 'compliance_limits', 'CREATE TABLE compliance_limits(  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id),  low_pct INTEGER NOT NULL CHECK (low_pct BETWEEN 0 AND 1000),  high_pct INTEGER NOT NULL CHECK (high_pct BETWEEN 0 AND 1000),  CHECK (low_pct <= high_pct))'),
    ('index', 'sqlite_autoindex_compliance_limits_1', 'compliance_limits', None),
    ('table', 'kit_returns', 'kit_returns', 'CREATE TABLE kit_returns(  id INTEGER PRIMARY KEY,  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id),  dispensation_id INTEGER NOT NULL REFERENCES dispensations(id),  lost INTEGER NOT NULL CHECK (lost IN (0, 1)),  units INTEGER CHECK (units >= 0),  returned_on TEXT NOT NULL,  condition TEXT,  recorded_us INTEGER NOT NULL,  recorded_by TEXT NOT NULL,  CHECK (lost = 0 OR units IS NULL))'),
    ('index', 'sqlite_autoindex_kit_returns_1', 'kit_returns', None),
    ('table', 'destructions', 'destructions', 'CREATE TABLE destructions(  id INTEGER PRIMARY KEY,  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id),  method TEXT NOT NULL,  certificate TEXT NOT NULL,  destroyed_us INTEGER NOT NULL,  destroyed_by TEXT NOT NULL,  witness TEXT NOT NULL)'),
    ('index', 'sqlite_autoindex_destructions_1', 'destructions', None),
    ('table', 'shipbacks', 'shipbacks', "CREATE TABLE shipbacks(  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),  number TEXT NOT NULL,  destination TEXT,  status TEXT NOT NULL CHECK (status IN ('packed', 'dispatched')),  packed_us INTEGER NOT NULL,  packed_by TEXT NOT NULL,  dispatched_us INTEGER,  dispatched_by TEXT,  reference TEXT,  UNIQUE (trial_id, number))"),
    ('index', 'sqlite_autoindex_shipbacks_1', 'shipbacks', None),
    ('table', 'shipback_kits', 'shipback_kits', 'CREATE TABLE shipback_kits(  id INTEGER PRIMARY KEY,  shipback_id INTEGER NOT NULL REFERENCES shipbacks(id),  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id))'),
    ('index', 'sqlite_autoindex_shipback_kits_1', 'shipback_kits', None),
    ('index', 'shipback_kits_by_shipback', 'shipback_kits', 'CREATE INDEX shipback_kits_by_shipback ON shipback_kits(shipback_id)'),
    ('table', 'cosignatures', 'cosignatures', 'CREATE TABLE cosignatures(  id INTEGER PRIMARY KEY,  size INTEGER NOT NULL,  witness TEXT NOT NULL,  vkey TEXT NOT NULL,  note TEXT NOT NULL,  stored_us INTEGER NOT NULL,  stored_by TEXT NOT NULL,  UNIQUE (vkey, size))'),
    ('index', 'sqlite_autoindex_cosignatures_1', 'cosignatures', None),
    ('table', 'signoffs', 'signoffs', "CREATE TABLE signoffs(  id INTEGER PRIMARY KEY,  trial_id INTEGER NOT NULL REFERENCES trials(id),  kind TEXT NOT NULL CHECK (kind IN ('reconciliation')),  as_of TEXT NOT NULL,  balanced INTEGER NOT NULL CHECK (balanced IN (0, 1)),  ledger_size INTEGER NOT NULL,  signed_us INTEGER NOT NULL,  signed_by TEXT NOT NULL,  comment TEXT)"),
]

# §1.1: kit_events_by_kit made again with the history row's other columns (its row moves to
# the end).
MIGRATION_9 = [
    ('index', 'kit_events_by_kit', 'kit_events', 'CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us, id, status, by_user)'),
]

# §1.1: the DARF log's lines (a copy of each history row that may be a line, with its kit type).
MIGRATION_10 = [
    ('table', 'darf_lines', 'darf_lines', 'CREATE TABLE darf_lines(  id INTEGER PRIMARY KEY REFERENCES kit_events(id),  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),  kit_id INTEGER NOT NULL REFERENCES kits(id),  status TEXT NOT NULL,  at_us INTEGER NOT NULL,  by_user TEXT NOT NULL)'),
    ('index', 'darf_lines_by_kit_type', 'darf_lines', 'CREATE INDEX darf_lines_by_kit_type ON darf_lines(kit_type_id, at_us, id, kit_id, status, by_user)'),
]

SCHEMA_3 = MIGRATION_1 + MIGRATION_2 + MIGRATION_3
SCHEMA_4 = [row for row in SCHEMA_3 if row[2] not in REBUILT_4] + MIGRATION_4
SCHEMA_8 = SCHEMA_4 + MIGRATION_5 + MIGRATION_6 + MIGRATION_7 + MIGRATION_8
SCHEMAS = {1: MIGRATION_1, 2: MIGRATION_1 + MIGRATION_2, 3: SCHEMA_3, 4: SCHEMA_4,
           5: SCHEMA_4 + MIGRATION_5, 6: SCHEMA_4 + MIGRATION_5 + MIGRATION_6,
           7: SCHEMA_4 + MIGRATION_5 + MIGRATION_6 + MIGRATION_7,
           8: SCHEMA_8}
SCHEMAS[9] = [row for row in SCHEMA_8 if row[1] != 'kit_events_by_kit'] + MIGRATION_9
SCHEMAS[10] = SCHEMAS[9] + MIGRATION_10

def audited(schema):
    """§1: the audited tables of a schema: every table but the ledger and SQLite's own."""
    return [name for kind, name, _, _ in schema
            if kind == "table" and name != "ledger" and not name.startswith("sqlite_")]

class Fail(Exception):
    """A verification failure, located by seq, table and key where known."""

    def __init__(self, msg, seq=None, table=None, key=None):
        where = "" if seq is None else "seq %d: " % seq
        if table is not None:
            where += "table %s%s: " % (table, "" if key is None else ", key " + key)
        super().__init__(where + msg)

def H(*parts):
    return hashlib.sha256(b"".join(parts)).digest()

def ed25519_ok(pub, sig, msg):
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False

def b64decode(s):
    """Strict standard base64 with padding (conventions): the canonical encoding only."""
    out = base64.b64decode(s, validate=True)  # no whitespace or other characters, full padding
    if base64.b64encode(out).decode() != s:
        raise ValueError("not canonical base64")
    return out

# ---- §2 entry decoding -----------------------------------------------------------------------

class Reader:
    def __init__(self, data):
        self.b, self.off = data, 0

    def take(self, n):
        if self.off + n > len(self.b):
            raise ValueError("truncated at byte %d" % self.off)
        self.off += n
        return self.b[self.off - n:self.off]

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def flag(self, what):
        v = self.u8()
        if v > 1:
            raise ValueError("%s is %d, not 0 or 1, at byte %d" % (what, v, self.off - 1))
        return v

    def utf8(self, n):
        raw = self.take(n)
        raw.decode("utf-8")  # strict: no overlong forms, surrogates or code points > U+10FFFF
        if b"\0" in raw:
            raise ValueError("NUL in text at byte %d" % (self.off - n))
        return raw

    def str(self):
        return self.utf8(self.u32()).decode()

    def value(self):
        """A value's canonical encoding (tag + payload): values compare by these (§2.1)."""
        start, tag = self.off, self.u8()
        if tag == INT:
            n = self.u8()
            if not 1 <= n <= 8:
                raise ValueError("INT length %d at byte %d is not 1 to 8" % (n, start + 1))
            v = int.from_bytes(self.take(n), "big", signed=True)
            if int_len(v) != n:
                raise ValueError("INT at byte %d is not in its shortest form" % start)
        elif tag == REAL:
            self.take(8)
        elif tag == TEXT:
            self.utf8(self.u32())
        elif tag == BLOB:
            self.take(self.u32())
        elif tag == DIGEST:
            self.take(32)
        elif tag not in (ABSENT, NULL):
            raise ValueError("unknown value tag %d at byte %d" % (tag, start))
        return self.b[start:self.off]

def decode_entry(data):
    r = Reader(data)
    e = {"version": r.u8()}
    if e["version"] not in (1, 2):
        raise ValueError("unsupported version %d" % e["version"])
    e["seq"], e["time"] = struct.unpack(">Qq", r.take(16))
    if e["version"] == 2:
        r.take(32)  # §2: the salt
    e["user"], e["action"], e["reason"] = r.str(), r.str(), r.str()
    e["params"] = [(r.str(), r.str()) for _ in range(r.u32())]
    e["changes"] = []
    absent = bytes([ABSENT])
    prev = None
    for _ in range(r.u32()):
        # §3.1: a group of consecutive changes to one table, its columns named once
        table = r.str()
        if table == prev:
            raise ValueError("%s: two consecutive change groups of one table" % table)
        prev = table
        defs = [(r.str(), r.flag("is_pk")) for _ in range(r.u32())]
        if not defs:
            raise ValueError("%s: change group without columns" % table)
        if len(set(name for name, _ in defs)) != len(defs):
            raise ValueError("%s: change group names a column twice" % table)
        nrows = r.u32()
        if nrows == 0:
            raise ValueError("%s: change group without rows" % table)
        for _ in range(nrows):
            op = chr(r.u8())
            if op not in "IUD":
                raise ValueError("unknown op 0x%02x at byte %d" % (ord(op), r.off - 1))
            cols = []
            for name, is_pk in defs:
                # an insert carries only new values, a delete only old ones
                old = absent if op == "I" else r.value()
                new = absent if op == "D" else r.value()
                if op == "U" and not is_pk and old == absent and new == absent:
                    continue  # a column the update left alone
                cols.append((name, is_pk, old, new))
            check_change_rules(table, op, cols)
            e["changes"].append((table, op, cols))
    e["esig"] = None
    if r.flag("has_esig"):
        e["esig"] = {"signer": r.str(), "printed_name": r.str(), "meaning": r.str(),
                     "public_key": r.take(32), "signature": r.take(64)}
    if r.off != len(data):
        raise ValueError("%d trailing bytes at byte %d" % (len(data) - r.off, r.off))
    return e

def check_change_rules(table, op, cols):
    """§3.1."""
    absent = bytes([ABSENT])
    for name, is_pk, old, new in cols:
        if op == "I" and (old != absent or new == absent):
            raise ValueError("%s: insert needs an absent old and a present new value" % table)
        if op == "D" and (old == absent or new != absent):
            raise ValueError("%s: delete needs a present old and an absent new value" % table)
        if op == "U" and (old == absent or new == absent or (is_pk and old != new)):
            raise ValueError("%s: update needs old and new values, and an unchanged key" % table)
        if op == "U" and not is_pk and old == new:
            raise ValueError("%s: update leaves the non-key column %s unchanged" % (table, name))
    if not any(c[1] for c in cols):
        raise ValueError("%s: change without a primary key column" % table)
    if op == "U" and all(c[1] for c in cols):
        raise ValueError("%s: update changes nothing" % table)

# ---- values of live rows (§2.1) ----------------------------------------------------------------

class TextBytes(bytes):
    """TEXT read from SQLite as its stored bytes (sqlite3 text_factory), distinct from BLOB."""

def storage_class(v):
    """A value's SQLite storage class as read through the TextBytes text_factory."""
    return ("NULL" if v is None else "TEXT" if isinstance(v, TextBytes) else
            "BLOB" if isinstance(v, bytes) else "INTEGER" if isinstance(v, int) else "REAL")

def int_len(v):
    """§2.1: bytes of the shortest two's complement form of an INT."""
    n = 1
    while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
        n += 1
    return n

def encode(v):
    if v is None:
        return bytes([NULL])
    if isinstance(v, str):
        v = TextBytes(v.encode())
    if isinstance(v, bytes):
        return bytes([TEXT if isinstance(v, TextBytes) else BLOB]) + struct.pack(">I", len(v)) + v
    if isinstance(v, int):
        n = int_len(v)
        return bytes([INT, n]) + v.to_bytes(n, "big", signed=True)
    return bytes([REAL]) + struct.pack(">d", v)

def show(enc):
    """A value for messages."""
    if enc[0] == NULL:
        return "NULL"
    if enc[0] == INT:
        return str(int.from_bytes(enc[2:], "big", signed=True))
    if enc[0] == REAL:
        return str(struct.unpack(">d", enc[1:])[0])
    if enc[0] == TEXT:
        return enc[5:].decode()[:60]
    return "0x" + enc[1:].hex()[:64]

def key_text(key):
    return ",".join("%s=%s" % (name, show(enc)) for name, enc in key)

# ---- §6 signed notes and checkpoints -----------------------------------------------------------

def is_control(c):
    """§6.2: Unicode's control characters (Cc): U+0000-U+001F and U+007F-U+009F."""
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F

def name_ok(name):
    return name != "" and all(not is_control(c) and c not in " +" and ord(c) not in UNICODE_SPACES
                              for c in name)

def keyid(name, pub):
    return H(name.encode(), b"\n\x01", pub)[:4]

def parse_vkey(vkey):
    """§6.3."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not name_ok(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise ValueError("not a verifier key <name>+<key id>+<base64 key>")
    key = b64decode(parts[2])
    if len(key) != 33 or key[0] != 1 or keyid(parts[0], key[1:]).hex() != parts[1]:
        raise ValueError("verifier key: bad algorithm, length or key id")
    return parts[0], key[1:]

def note_text(note, name, pub):
    """§6.2: verify a signed note with the key (name, pub); returns its text."""
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("no blank line before the signatures")
    text, sigs = note[:split + 1], note[split + 2:]
    if any(is_control(c) and c != "\n" for c in text):
        raise ValueError("control character in the note text")
    if not sigs.endswith("\n") or sigs.count("\n") > 100:
        raise ValueError("malformed signature block")
    verified = False
    for line in sigs[:-1].split("\n"):
        signer, _, sig64 = line[2:].partition(" ")
        if not line.startswith("\u2014 ") or not name_ok(signer):
            raise ValueError("malformed signature line")
        blob = b64decode(sig64)
        if len(blob) < 5:
            raise ValueError("malformed signature line")
        if signer == name and blob[:4] == keyid(name, pub):
            if len(blob) != 68 or not ed25519_ok(pub, blob[4:], text.encode()):
                raise ValueError("the signature of %s does not verify" % name)
            verified = True
    if not verified:
        raise ValueError("no signature by %s" % name)
    return text

def open_checkpoint(note, name, pub):
    """§6.2: verify a signed note and parse its checkpoint body (§6.1); returns (size, root,
    previous), previous None when the body names no previous checkpoint."""
    text = note_text(note, name, pub)
    lines = text[:-1].split("\n")   # §6.1: origin, size, root, then non-empty extension lines
    if len(lines) < 3 or lines[0] != name or "" in lines[3:]:
        raise ValueError("not a checkpoint of %s" % name)
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or int(lines[1]) >= 2 ** 64:
        raise ValueError("bad checkpoint size")
    root = b64decode(lines[2])
    if len(root) != 32:
        raise ValueError("bad checkpoint root")
    previous = [l[len("previous "):] for l in lines[3:] if l.startswith("previous ")]
    if len(previous) > 1 or previous and not re.fullmatch(r"0|[1-9][0-9]*", previous[0]) \
            or previous and int(previous[0]) >= 2 ** 64:
        raise ValueError("bad previous-checkpoint line")
    return int(lines[1]), root, int(previous[0]) if previous else None

# ---- §5 the tree -----------------------------------------------------------------------------

class Frontier:
    def __init__(self):
        self.size, self.nodes = 0, []

    def append(self, h):
        s = self.size
        while s & 1:
            h = H(b"\x01", self.nodes.pop(), h)
            s >>= 1
        self.nodes.append(h)
        self.size += 1

    def root(self):
        r = self.nodes[-1] if self.nodes else H(b"")
        for n in reversed(self.nodes[:-1]):
            r = H(b"\x01", n, r)
        return r

    def encode(self):
        return struct.pack(">Q", self.size) + b"".join(self.nodes)

# ---- §8 verification -------------------------------------------------------------------------

def check_schema(db):
    """§8 step 3: a libctm database whose sqlite_master is exactly §1.1's list for its schema
    version (PRAGMA user_version); returns that list."""
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise Fail("not a libctm database (application_id)")
    encoding = bytes(db.execute("PRAGMA encoding").fetchone()[0]).decode()
    if encoding != "UTF-8":
        raise Fail("the database's text encoding is %s, not UTF-8" % encoding, None, "schema",
                   "encoding")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in SCHEMAS:
        raise Fail("schema version %d is unknown to this verifier (it knows versions %s): verify "
                   "with a verifier that knows it" % (version, ", ".join(map(str, SCHEMAS))))
    expected = set(SCHEMAS[version])
    live = {tuple(None if v is None else bytes(v).decode(errors="replace") for v in row)
            for row in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}
    for rows, others, what in ((live, expected, "added or changed outside libctm"),
                               (expected, live, "missing or changed")):
        for row in sorted(rows - others, key=str):
            raise Fail(what, None, "schema", "%s %s" % row[:2])
    return SCHEMAS[version]

def check_site_key(db, name, pub):
    """§8 step 3: the site row holds the verifier key; no action ever changes it."""
    for key, origin, public_key in db.execute("SELECT id, origin, public_key FROM site"):
        key_ok = storage_class(public_key) == "BLOB" and bytes(public_key) == pub
        if storage_class(origin) != "TEXT" or bytes(origin) != name.encode() or not key_ok:
            raise Fail("the site's %s is not the verifier key's: a site key never changes"
                       % ("origin" if key_ok else "public key"), None, "site",
                       key_text([("id", encode(key))]))

def audited_tables(db, schema):
    """§1: {table: [(column, is_pk), ...]} in column order, read from the checked schema."""
    return {t: [(bytes(r[1]).decode(), r[5] > 0)
                for r in db.execute("SELECT * FROM pragma_table_info(?)", (t,))]
            for t in audited(schema)}

def apply_change(replay, tables, seq, table, op, cols):
    """§8 step 5: replay one row change, checking the recorded old values."""
    key = tuple(sorted((n, (old if op != "I" else new)) for n, pk, old, new in cols if pk))
    if table not in tables:
        raise Fail("the entry changes a table that is not audited", seq, table, key_text(key))
    schema = dict(tables[table])
    what = {"I": "insert", "U": "update", "D": "delete"}[op]
    for n, is_pk, _, _ in cols:                 # §8 step 5: the columns are the table's
        if n not in schema:
            raise Fail("unknown column %s" % n, seq, table, key_text(key))
        if schema[n] != bool(is_pk):
            raise Fail("the %s gives column %s is_pk %d, the schema %d"
                       % (what, n, is_pk, schema[n]), seq, table, key_text(key))
    named = {n for n, _, _, _ in cols}
    for n, is_pk in tables[table]:
        if n not in named and (op != "U" or is_pk):
            raise Fail("the %s lacks column %s" % (what, n), seq, table, key_text(key))
    rows = replay.setdefault(table, {})
    if op == "I":
        if key in rows:
            raise Fail("insert of a row that already exists", seq, table, key_text(key))
        rows[key] = {n: new for n, _, _, new in cols}
        return
    row = rows.get(key)
    if row is None or any(row.get(n) != old for n, _, old, _ in cols):
        raise Fail("the entry's old values do not match the row as the ledger left it",
                   seq, table, key_text(key))
    if op == "D":
        del rows[key]
    else:
        row.update({n: new for n, _, _, new in cols})

def check_esig(replay, seq, e, data):
    """§4.2, against the replay after the entry's changes."""
    s = e["esig"]
    if not ed25519_ok(s["public_key"], s["signature"], data[:-64]):
        raise Fail("the e-signature of %s does not verify" % s["signer"], seq)
    if s["signer"] != e["user"]:
        raise Fail("signed by %s but recorded as done by %s" % (s["signer"], e["user"]), seq)
    name = encode(s["signer"])
    users = [r for r in replay.get("users", {}).values() if r.get("username") == name]
    if len(users) != 1 or users[0].get("public_key") != encode(s["public_key"]):
        raise Fail("the e-signature key is not the key of user %s at that time" % s["signer"],
                   seq, "users", s["signer"])
    if users[0].get("printed_name") != encode(s["printed_name"]):
        raise Fail("the e-signature shows the printed name %r, not that of user %s" % (
            s["printed_name"], s["signer"]), seq, "users", s["signer"])
    if users[0].get("disabled") != encode(0):
        raise Fail("the e-signature is by the disabled account %s" % s["signer"], seq, "users",
                   s["signer"])

def needs_esig(e):
    """§4.4: the signing policy."""
    if e["action"] == "user.passwd":
        return next((v for k, v in e["params"] if k == "new_signing_key"), None) == "yes"
    return e["action"] in SIGNED_ACTIONS

WITNESSED = ("trial", "kits", "method", "certificate")  # §4.5: what both entries name alike

def check_witness(seq, e, destroy):
    """§4.5: a kit.destroy entry is followed at once by its kit.destroy_witness entry, which names
    the same destruction and is done (and e-signed, step 6) by another user.  destroy is the
    kit.destroy entry waiting for its witness (or None); returns the one waiting after e."""
    param = lambda entry, key: next((v for k, v in entry["params"] if k == key), None)
    if e["action"] == "kit.destroy_witness":
        if destroy is None:
            raise Fail("a witness's entry that follows no destruction", seq, "ledger")
        if any(param(e, k) != param(destroy, k) for k in WITNESSED):
            raise Fail("the witness's entry names another destruction than seq %d's"
                       % destroy["seq"], seq, "ledger")
        if param(e, "destroyed_by") != destroy["user"]:
            raise Fail("the witness's entry says destroyed by %s, seq %d says %s" % (
                param(e, "destroyed_by"), destroy["seq"], destroy["user"]), seq, "ledger")
        if e["user"] == destroy["user"]:
            raise Fail("%s witnessed their own destruction (seq %d)" % (e["user"], destroy["seq"]),
                       seq, "ledger")
        return None
    if destroy is not None:
        raise Fail("the destruction at seq %d is not followed by its witness's entry"
                   % destroy["seq"], seq, "ledger")
    return e if e["action"] == "kit.destroy" else None

def cosignatures(db, version, name, pub):
    """§8 step 8.4 (schema version 8 on): the counted cosignatures as {size: [(root, witness)]}.
    A row counts when its note verifies with the vkey beside it and is a checkpoint of that size
    signed by the site key (§6.5); any other row witnesses nothing."""
    counted = {}
    if version < 8:
        return counted
    for size, vkey, note in db.execute("SELECT size, vkey, note FROM cosignatures"):
        if storage_class(size) != "INTEGER" or size <= 0 or storage_class(vkey) != "TEXT" \
                or storage_class(note) != "TEXT":
            continue
        try:
            note = bytes(note).decode()
            witness, wpub = parse_vkey(bytes(vkey).decode())
            note_text(note, witness, wpub)
            csize, root, _ = open_checkpoint(note, name, pub)
        except (ValueError, UnicodeDecodeError):
            continue
        if csize == size:
            counted.setdefault(size, []).append((root, witness))
    return counted

def walk(db, tables, name, pub, held, witnessed):
    """§8 steps 4 to 8; returns the frontier, the replay and the counts of checks."""
    frontier, replay, checked, esigs, frontier_at, last_checkpoint = Frontier(), {}, 0, 0, None, 0
    chained = salted = False
    destroy = None
    sql = "SELECT seq, entry, checkpoint, frontier FROM ledger ORDER BY seq"
    for i, (seq, data, note, stored_frontier) in enumerate(db.execute(sql)):
        if seq != i:                                                   # step 4
            raise Fail("entry missing (the next stored entry is seq %s)" % seq, i, "ledger")
        for column, value, want in (("entry", data, "BLOB"), ("checkpoint", note, "TEXT"),
                                    ("frontier", stored_frontier, "BLOB")):   # §1: storage classes
            if storage_class(value) != want and (column == "entry" or value is not None):
                raise Fail("the %s is stored as %s, not %s%s" % (
                    column, storage_class(value), want, "" if column == "entry" else " or NULL"),
                    i, "ledger")
        try:
            data = bytes(data)
            e = decode_entry(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise Fail("the entry cannot be decoded: %s" % err, i, "ledger")
        if e["seq"] != i:
            raise Fail("the entry stored here is seq %d: entries were moved or reordered"
                       % e["seq"], i, "ledger")
        if e["version"] == 1 and salted:                               # step 4.5
            raise Fail("an unsalted entry (version 1) follows a salted one", i, "ledger")
        salted = salted or e["version"] != 1
        for table, op, cols in e["changes"]:                           # step 5
            apply_change(replay, tables, i, table, op, cols)
        if e["esig"] is not None:                                      # step 6
            check_esig(replay, i, e, data)
            esigs += 1
        elif needs_esig(e):
            raise Fail("the action %s carries no e-signature" % e["action"], i, "ledger")
        destroy = check_witness(i, e, destroy)                         # step 6.5
        frontier.append(H(b"\x00", data))                              # step 7
        if note is not None:
            try:
                size, root, previous = open_checkpoint(bytes(note).decode(), name, pub)
            except (ValueError, UnicodeDecodeError) as err:
                raise Fail("checkpoint of size %d: %s" % (i + 1, err), i, "ledger")
            if size != i + 1 or root != frontier.root():
                raise Fail("checkpoint of size %d: signed root differs from the entries' root"
                           % (i + 1), i, "ledger")
            if previous is None and chained:                           # §6.4: the chain
                raise Fail("the checkpoint does not name the checkpoint before it", i, "ledger")
            if previous is not None and previous != last_checkpoint:
                raise Fail("the checkpoint follows the checkpoint of size %d, but the ledger's "
                           "previous checkpoint has size %d: a checkpoint was removed"
                           % (previous, last_checkpoint), i, "ledger")
            chained = chained or previous is not None
            checked, last_checkpoint = checked + 1, i + 1
        if held is not None and held[0] == i + 1 and held[1] != frontier.root():
            raise Fail("the log at size %d differs from the checkpoint held outside: entries were "
                       "rewritten" % (i + 1), i)
        for root, witness in witnessed.get(i + 1, []):
            if root != frontier.root():
                raise Fail("the log at size %d differs from the checkpoint witness %s cosigned: "
                           "entries were rewritten" % (i + 1, witness), i)
        if stored_frontier is not None:
            if bytes(stored_frontier) != frontier.encode():
                raise Fail("the stored tree state does not match the entries", i, "ledger")
            frontier_at = i
    n = frontier.size                                                  # step 8
    if destroy is not None:
        raise Fail("the destruction at seq %d is not followed by its witness's entry"
                   % destroy["seq"], n, "ledger")
    if n > 0 and last_checkpoint != n:
        raise Fail("entries after the last signed checkpoint (size %d of %d): added outside libctm "
                   "or its checkpoint removed" % (last_checkpoint, n), last_checkpoint, "ledger")
    if n > 0 and frontier_at != n - 1:
        raise Fail("the newest entry lacks the tree state", n - 1, "ledger")
    if held is not None and held[0] > n:
        raise Fail("the database has %d entries but the checkpoint held outside has %d: the "
                   "database was rolled back or truncated" % (n, held[0]), n)
    if held is not None and held[0] == 0 and n > 0:
        raise Fail("the held checkpoint is of the empty log: it proves nothing", 0)
    if witnessed and max(witnessed) > n:
        top = max(witnessed)
        raise Fail("witness %s cosigned the checkpoint of size %d, but the ledger has %d entries: "
                   "it was rolled back or truncated" % (witnessed[top][-1][1], top, n), n)
    return frontier, replay, checked, esigs

def compare_tables(db, tables, replay):
    """§8 step 9: the live tables must equal the replay."""
    rows_seen = 0
    for table, cols in sorted(tables.items()):
        live = {}
        for values in db.execute('SELECT * FROM "%s"' % table.replace('"', '""')):
            row = {name: encode(v) for (name, _), v in zip(cols, values)}
            if table in SECRET:  # §3.3: non-key values compare by digest
                row.update({name: bytes([DIGEST]) + H(row[name]) for name, pk in cols if not pk})
            live[tuple(sorted((n, row[n]) for n, pk in cols if pk))] = row
        ledger = replay.get(table, {})
        rows_seen += len(live)
        for key, row in sorted(live.items()):
            if ledger.get(key) != row:
                raise Fail("the live row differs from the ledger or was added outside libctm",
                           None, table, key_text(key))
        for key in sorted(ledger):
            if key not in live:
                raise Fail("the row the ledger records is missing or changed", None, table,
                           key_text(key))
    return rows_seen

def verify(path, vkey, held_note=None):
    name, pub = parse_vkey(vkey)                                       # step 1
    held = None
    if held_note is not None:                                          # step 2
        try:
            held = open_checkpoint(held_note, name, pub)[:2]
        except ValueError as err:
            raise Fail("held checkpoint: %s" % err)
    if not os.path.exists(path):
        raise Fail("%s: no such file" % path)
    db = sqlite3.connect(pathlib.Path(path).resolve().as_uri() + "?mode=ro", uri=True,
                         isolation_level=None)
    try:
        db.text_factory = TextBytes
        db.execute("BEGIN")                                            # one snapshot for everything
        tables = audited_tables(db, check_schema(db))                  # step 3
        check_site_key(db, name, pub)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        witnessed = cosignatures(db, version, name, pub)               # step 8.4
        frontier, replay, checked, esigs = walk(db, tables, name, pub, held, witnessed)  # 4 to 8
        rows = compare_tables(db, tables, replay)                      # step 9
    finally:
        db.close()
    return frontier.size, checked, esigs, rows, frontier.root().hex(), held, witnessed

def main(argv=None):
    ap = argparse.ArgumentParser(description="Verify a libctm audit ledger without libctm.")
    ap.add_argument("db", help="the libctm database file")
    ap.add_argument("--key", required=True, help="the site's verifier key, or a file holding it")
    ap.add_argument("--checkpoint", help="a signed checkpoint held outside the database")
    args = ap.parse_args(argv)
    try:
        vkey = pathlib.Path(args.key).read_text("utf-8") if os.path.isfile(args.key) else args.key
        held = pathlib.Path(args.checkpoint).read_bytes().decode() if args.checkpoint else None
        n, checked, esigs, rows, root, held, witnessed = verify(args.db, vkey.strip(), held)
    except (Fail, ValueError, OSError, sqlite3.Error) as err:
        print("FAIL: %s" % err)
        return 1
    print("OK: %d entries, %d checkpoints, %d e-signatures, %d rows; root %s%s"
          % (n, checked, esigs, rows, root,
             "" if held is None else "; grew from the held checkpoint of size %d" % held[0]))
    if witnessed:
        top = max(witnessed)
        count = sum(len(v) for v in witnessed.values())
        print("Witnessed up to size %d by %s (%d cosignature%s counted)"
              % (top, witnessed[top][-1][1], count, "" if count == 1 else "s"))
    return 0

if __name__ == "__main__":
    sys.exit(main())
