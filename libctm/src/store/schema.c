/* schema.c - libctm's schema, one migration per version, for every engine. */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "schema.h"

/* The kit statuses that schema version 4 allows: those of the transition table in
 * domain/stock.c, which tests/unit/test_stock_rules.c holds against what each engine accepts.
 * Part of a shipped migration, so never edited: a status added to the table needs a new
 * migration that widens the CHECK. */
#define KIT_STATUSES_4                                                                         \
    "'in_transit', 'received', 'available', 'dispensed', 'returned', 'pending_destruction',"   \
    " 'destroyed', 'returned_to_sponsor', 'quarantined', 'damaged', 'missing',"                \
    " 'lost_by_subject', 'expired', 'not_dispensed'"

/* Each migration takes the schema from version i to i + 1.  Shipped migrations never change:
 * a new version appends one.  verify builds its replay copy from the same list, so the replay
 * schema is always the live schema. */
static const char *const migrations[] = {
    /* 0 -> 1: site, users and the ledger */
    "CREATE TABLE site("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  name TEXT NOT NULL,"
    "  origin TEXT NOT NULL,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  printed_name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','pharmacist','technician','investigator','monitor')),"
    "  unblinded INTEGER NOT NULL CHECK (unblinded IN (0, 1)),"
    "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    "  failed_logins INTEGER NOT NULL DEFAULT 0,"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE credentials("
    "  user_id INTEGER PRIMARY KEY REFERENCES users(id),"
    "  password_hash TEXT NOT NULL,"
    "  key_salt BLOB NOT NULL,"
    "  key_nonce BLOB NOT NULL,"
    "  sealed_key BLOB NOT NULL,"
    "  opslimit INTEGER NOT NULL,"
    "  memlimit INTEGER NOT NULL);"
    "CREATE TABLE ledger("
    "  seq INTEGER PRIMARY KEY,"
    "  entry BLOB NOT NULL,"
    /* The signed checkpoint of the tree of seq + 1 entries, on each transaction's last entry,
     * and the tree's compact frontier on the newest entry only: one row, one page per commit. */
    "  checkpoint TEXT,"
    "  frontier BLOB);"
    "CREATE VIEW checkpoints AS"
    "  SELECT seq + 1 AS size, checkpoint AS note FROM ledger WHERE checkpoint IS NOT NULL;",
    /* 1 -> 2: trials, storage, stock and receipt.  Temperatures in milli-degrees Celsius, dates
     * as "YYYY-MM-DD", times as UTC microseconds. */
    "CREATE TABLE trials("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL UNIQUE,"
    "  title TEXT NOT NULL,"
    "  sponsor TEXT NOT NULL,"
    "  blinded INTEGER NOT NULL CHECK (blinded IN (0, 1)),"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE arms("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  code TEXT NOT NULL,"
    "  ratio INTEGER NOT NULL CHECK (ratio BETWEEN 1 AND 100),"
    "  UNIQUE (trial_id, code));"
    "CREATE TABLE kit_types("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  code TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  dose_form TEXT,"
    "  strength TEXT,"
    "  units INTEGER NOT NULL CHECK (units > 0),"
    "  storage_min_mc INTEGER NOT NULL,"
    "  storage_max_mc INTEGER NOT NULL,"
    "  dnd_days INTEGER NOT NULL CHECK (dnd_days >= 0),"
    "  budget_minutes INTEGER,"
    "  budget_max_mc INTEGER,"
    "  dispensing_days INTEGER,"
    "  UNIQUE (trial_id, code));"
    "CREATE TABLE locations("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  min_mc INTEGER NOT NULL,"
    "  max_mc INTEGER NOT NULL);"
    "CREATE TABLE lots("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
    "  batch TEXT NOT NULL,"
    "  expiry TEXT NOT NULL,"
    "  gtin TEXT,"
    "  UNIQUE (trial_id, batch));"
    "CREATE TABLE shipments("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  number TEXT NOT NULL,"
    "  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),"
    "  origin TEXT,"
    "  destination TEXT,"
    "  date_received TEXT,"
    "  registered_us INTEGER NOT NULL,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  excursion INTEGER NOT NULL DEFAULT 0 CHECK (excursion IN (0, 1)),"
    "  status TEXT NOT NULL CHECK (status IN ('receiving', 'confirmed', 'sent')),"
    "  UNIQUE (direction, number));"
    "CREATE TABLE kits("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_number TEXT NOT NULL,"
    "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
    "  lot_id INTEGER NOT NULL REFERENCES lots(id),"
    "  arm TEXT,"
    "  status TEXT NOT NULL,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  units INTEGER NOT NULL CHECK (units >= 0),"
    "  expiry TEXT,"
    "  gtin TEXT,"
    "  serial TEXT,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  checked INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (trial_id, kit_number));"
    "CREATE INDEX kits_by_shipment ON kits(shipment_id);"
    "CREATE INDEX kits_by_status ON kits(status);"
    "CREATE TABLE kit_moves("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  from_location_id INTEGER REFERENCES locations(id),"
    "  to_location_id INTEGER REFERENCES locations(id),"
    "  moved_us INTEGER NOT NULL,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  reason TEXT);"
    "CREATE INDEX kit_moves_by_kit ON kit_moves(kit_id);"
    /* open-label bulk supply: units of a lot at a location, counted per lot, no kit numbers */
    "CREATE TABLE bulk_stock("
    "  id INTEGER PRIMARY KEY,"
    "  lot_id INTEGER NOT NULL REFERENCES lots(id),"
    "  location_id INTEGER NOT NULL REFERENCES locations(id),"
    "  units INTEGER NOT NULL CHECK (units >= 0),"
    "  UNIQUE (lot_id, location_id));"
    "CREATE TABLE discrepancies("
    "  id INTEGER PRIMARY KEY,"
    "  shipment_id INTEGER NOT NULL REFERENCES shipments(id),"
    "  kit_number TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN ('missing', 'extra', 'damaged', 'lot_mismatch',"
    "    'expiry_mismatch')),"
    "  detail TEXT NOT NULL,"
    "  recorded_us INTEGER NOT NULL,"
    "  recorded_by TEXT NOT NULL);",
    /* 2 -> 3 */
    /* Salted ledger entries (entry version 2) need no table change: opening an older site for
     * writing appends a ledger.upgrade entry in the same transaction (migrate()).  An account
     * whose password an administrator reset is one whose credentials hold no sealed key: no
     * column records it, since entries written before this version could not name one. */
    "",
    /* 3 -> 4: kits.status takes only the statuses of the kit status transition table
     * (domain/stock.c, the one writer of the column), by a CHECK.  SQLite adds a CHECK only by
     * rebuilding the table (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema
     * Changes"), here inside the open's transaction, where foreign keys stay on (PRAGMA
     * foreign_keys cannot change in a transaction).  So kit_moves, the one table that references
     * kits, is rebuilt with it and dropped first: a table no other table references is dropped
     * without deleting a row or breaking a foreign key.  The rows wait in temporary tables and
     * come back with their ids; the indexes are made again.  Both tables are created under their
     * own names, not renamed, so sqlite_master holds the text below as written.  PostgreSQL adds
     * the constraint in place (postgres_migrations). */
    "CREATE TEMP TABLE ctm__kits_4 AS SELECT * FROM main.kits;"
    "CREATE TEMP TABLE ctm__kit_moves_4 AS SELECT * FROM main.kit_moves;"
    "DROP TABLE main.kit_moves;"
    "DROP TABLE main.kits;"
    "CREATE TABLE kits("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_number TEXT NOT NULL,"
    "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
    "  lot_id INTEGER NOT NULL REFERENCES lots(id),"
    "  arm TEXT,"
    "  status TEXT NOT NULL CHECK (status IN (" KIT_STATUSES_4 ")),"
    "  location_id INTEGER REFERENCES locations(id),"
    "  units INTEGER NOT NULL CHECK (units >= 0),"
    "  expiry TEXT,"
    "  gtin TEXT,"
    "  serial TEXT,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  checked INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (trial_id, kit_number));"
    "CREATE INDEX kits_by_shipment ON kits(shipment_id);"
    "CREATE INDEX kits_by_status ON kits(status);"
    "CREATE TABLE kit_moves("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  from_location_id INTEGER REFERENCES locations(id),"
    "  to_location_id INTEGER REFERENCES locations(id),"
    "  moved_us INTEGER NOT NULL,"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  reason TEXT);"
    "CREATE INDEX kit_moves_by_kit ON kit_moves(kit_id);"
    "INSERT INTO main.kits SELECT * FROM temp.ctm__kits_4;"
    "INSERT INTO main.kit_moves SELECT * FROM temp.ctm__kit_moves_4;"
    "DROP TABLE temp.ctm__kits_4;"
    "DROP TABLE temp.ctm__kit_moves_4;",
    /* 4 -> 5: randomization and subjects.  Each trial has at most one randomization scheme: a
     * list (generated from a recorded seed, or imported) or minimization.  Secret columns (arms,
     * the seed, the block structure, minimization's draws) are named so that blinding.c hides
     * them from blinded readers of the audit log. */
    "CREATE TABLE rand_schemes("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id),"
    "  method TEXT NOT NULL CHECK (method IN ('list', 'minimization')),"
    "  source TEXT NOT NULL"
    "  CHECK (source IN ('generated', 'sponsor', 'blockrand', 'minimization')),"
    "  strata TEXT NOT NULL,"
    "  seed BLOB,"
    "  block_sizes TEXT,"
    "  weights TEXT,"
    "  imbalance TEXT,"
    "  p REAL,"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE subjects("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  screening TEXT NOT NULL,"
    "  strata TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    "  CHECK (status IN ('enrolled', 'randomized', 'withdrawn', 'completed')),"
    "  rand_number TEXT,"
    "  arm TEXT,"
    "  draw INTEGER,"
    "  enrolled_us INTEGER NOT NULL,"
    "  randomized_us INTEGER,"
    "  ended_us INTEGER,"
    "  dose_level INTEGER,"
    "  titrations INTEGER NOT NULL DEFAULT 0,"
    "  titrated_us INTEGER,"
    "  on_hold INTEGER NOT NULL DEFAULT 0 CHECK (on_hold IN (0, 1)),"
    "  UNIQUE (trial_id, screening),"
    "  UNIQUE (trial_id, rand_number));"
    "CREATE TABLE rand_list("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  stratum TEXT NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  number TEXT NOT NULL,"
    "  block INTEGER,"
    "  block_size INTEGER,"
    "  arm TEXT NOT NULL,"
    "  subject_id INTEGER UNIQUE REFERENCES subjects(id),"
    "  UNIQUE (trial_id, number),"
    "  UNIQUE (trial_id, stratum, position));"
    "CREATE INDEX rand_list_free ON rand_list(trial_id, stratum, position)"
    "  WHERE +subject_id IS NULL;"
    "CREATE TABLE kit_list("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kit_number TEXT NOT NULL,"
    "  arm TEXT NOT NULL,"
    "  UNIQUE (trial_id, kit_number));"
    "CREATE TABLE visits("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  code TEXT NOT NULL,"
    "  position INTEGER NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  anchor TEXT NOT NULL CHECK (anchor IN ('randomization', 'previous')),"
    "  window_before INTEGER NOT NULL CHECK (window_before >= 0),"
    "  window_after INTEGER NOT NULL CHECK (window_after >= 0),"
    "  UNIQUE (trial_id, code),"
    "  UNIQUE (trial_id, position));"
    "CREATE TABLE visit_kits("
    "  id INTEGER PRIMARY KEY,"
    "  visit_id INTEGER NOT NULL REFERENCES visits(id),"
    "  kit_type_id INTEGER REFERENCES kit_types(id),"
    "  count INTEGER NOT NULL CHECK (count BETWEEN 1 AND 100),"
    "  UNIQUE (visit_id, kit_type_id));"
    "CREATE TABLE dose_levels("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  level INTEGER NOT NULL,"
    "  kit_type_id INTEGER NOT NULL UNIQUE REFERENCES kit_types(id),"
    "  UNIQUE (trial_id, level));"
    "CREATE TABLE titration_rules("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id),"
    "  start_level INTEGER NOT NULL,"
    "  min_interval_days INTEGER NOT NULL CHECK (min_interval_days >= 0),"
    "  max_titrations INTEGER NOT NULL CHECK (max_titrations >= 0));"
    "CREATE TABLE dispensations("
    "  id INTEGER PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  visit_id INTEGER NOT NULL REFERENCES visits(id),"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  status TEXT NOT NULL"
    "  CHECK (status IN ('assigned', 'dispensed', 'cancelled', 'replaced', 'reversed')),"
    "  dose_level INTEGER,"
    "  assigned_us INTEGER NOT NULL,"
    "  dispensed_us INTEGER,"
    "  recorded_us INTEGER,"
    "  replaces_id INTEGER REFERENCES dispensations(id),"
    "  override_reason TEXT,"
    "  reason TEXT);"
    "CREATE INDEX dispensations_by_subject ON dispensations(subject_id);"
    "CREATE INDEX dispensations_by_kit ON dispensations(kit_id);"
    "CREATE INDEX kits_for_dispensing ON kits(trial_id, kit_type_id, arm, status, id);"
    "CREATE INDEX kits_by_number ON kits(kit_number);"
    "CREATE INDEX kits_by_serial ON kits(serial);"
    "CREATE TABLE code_breaks("
    "  id INTEGER PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  broken_us INTEGER NOT NULL,"
    "  broken_by TEXT NOT NULL,"
    "  reason TEXT NOT NULL);",
    /* 5 -> 6: temperatures.  A logger file imported for a storage location or a shipment (one
     * of the two), its readings (loggers that keep every reading) and its days (loggers that keep
     * daily summaries).  A location's readings and days are unique by time: files that overlap
     * merge.  Temperatures in milli-degrees Celsius, times in UTC microseconds, days as
     * "YYYY-MM-DD" of the logger's clock. */
    "CREATE TABLE logger_files("
    "  id INTEGER PRIMARY KEY,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  sha256 TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  format TEXT NOT NULL,"
    "  serial TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  interval_s INTEGER NOT NULL,"
    "  unit TEXT NOT NULL CHECK (unit IN ('C', 'F')),"
    "  zone TEXT NOT NULL,"
    "  readings INTEGER NOT NULL,"
    "  days INTEGER NOT NULL,"
    "  first_us INTEGER,"
    "  last_us INTEGER,"
    "  high_mc INTEGER,"
    "  high_minutes INTEGER,"
    "  low_mc INTEGER,"
    "  low_minutes INTEGER,"
    "  device_mkt_mc INTEGER,"
    "  device_energy_j INTEGER,"
    "  evidence TEXT,"
    "  imported_us INTEGER NOT NULL,"
    "  imported_by TEXT NOT NULL,"
    "  CHECK ((location_id IS NULL) <> (shipment_id IS NULL)));"
    "CREATE UNIQUE INDEX logger_files_by_location ON logger_files(location_id, sha256)"
    "  WHERE location_id IS NOT NULL;"
    "CREATE UNIQUE INDEX logger_files_by_shipment ON logger_files(shipment_id, sha256)"
    "  WHERE shipment_id IS NOT NULL;"
    "CREATE TABLE readings("
    "  id INTEGER PRIMARY KEY,"
    "  file_id INTEGER NOT NULL REFERENCES logger_files(id),"
    "  location_id INTEGER REFERENCES locations(id),"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  t_us INTEGER NOT NULL,"
    "  temp_mc INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX readings_by_location ON readings(location_id, t_us)"
    "  WHERE location_id IS NOT NULL;"
    "CREATE UNIQUE INDEX readings_by_shipment ON readings(shipment_id, t_us)"
    "  WHERE shipment_id IS NOT NULL;"
    "CREATE TABLE logger_days("
    "  id INTEGER PRIMARY KEY,"
    "  file_id INTEGER NOT NULL REFERENCES logger_files(id),"
    "  location_id INTEGER REFERENCES locations(id),"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  day TEXT NOT NULL,"
    "  start_us INTEGER NOT NULL,"
    "  end_us INTEGER NOT NULL,"
    "  min_mc INTEGER,"
    "  min_us INTEGER,"
    "  max_mc INTEGER,"
    "  max_us INTEGER,"
    "  avg_mc INTEGER,"
    "  minutes_high INTEGER NOT NULL,"
    "  minutes_low INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX logger_days_by_location ON logger_days(location_id, day)"
    "  WHERE location_id IS NOT NULL;"
    "CREATE UNIQUE INDEX logger_days_by_shipment ON logger_days(shipment_id, day)"
    "  WHERE shipment_id IS NOT NULL;",
    /* 6 -> 7: excursions.  A location's alarm settings (a table of their own: a column added to
     * locations would not replay the older entries that inserted its rows); the excursions found
     * in a location's or a shipment's readings or days, each with the range, delay and gap it
     * was judged against, its figures (temperatures in milli-degrees Celsius, degree-minutes in
     * milli-degree-minutes) and the decision on it; the kits recorded with each, with their
     * status then, whether it quarantined them, and the decision on each. */
    "CREATE TABLE location_alarms("
    "  id INTEGER PRIMARY KEY,"
    "  location_id INTEGER NOT NULL UNIQUE REFERENCES locations(id),"
    "  delay_minutes INTEGER NOT NULL CHECK (delay_minutes BETWEEN 0 AND 1440),"
    "  max_gap_minutes INTEGER NOT NULL CHECK (max_gap_minutes BETWEEN 1 AND 10080));"
    "CREATE TABLE excursions("
    "  id INTEGER PRIMARY KEY,"
    "  location_id INTEGER REFERENCES locations(id),"
    "  shipment_id INTEGER REFERENCES shipments(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('high', 'low', 'mixed', 'unknown')),"
    "  daily INTEGER NOT NULL CHECK (daily IN (0, 1)),"
    "  start_us INTEGER NOT NULL,"
    "  end_us INTEGER NOT NULL,"
    "  ongoing INTEGER NOT NULL CHECK (ongoing IN (0, 1)),"
    "  minutes INTEGER NOT NULL,"
    "  degree_mc_minutes INTEGER,"
    "  min_mc INTEGER,"
    "  min_us INTEGER,"
    "  max_mc INTEGER,"
    "  max_us INTEGER,"
    "  readings INTEGER NOT NULL,"
    "  range_min_mc INTEGER NOT NULL,"
    "  range_max_mc INTEGER NOT NULL,"
    "  delay_minutes INTEGER NOT NULL,"
    "  max_gap_minutes INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'released', 'rejected', 'decided')),"
    "  detected_us INTEGER NOT NULL,"
    "  detected_by TEXT NOT NULL,"
    "  decided_us INTEGER,"
    "  decided_by TEXT,"
    "  reference TEXT,"
    "  CHECK ((location_id IS NULL) <> (shipment_id IS NULL)));"
    "CREATE INDEX excursions_by_location ON excursions(location_id, start_us);"
    "CREATE INDEX excursions_by_shipment ON excursions(shipment_id, start_us);"
    "CREATE TABLE excursion_kits("
    "  id INTEGER PRIMARY KEY,"
    "  excursion_id INTEGER NOT NULL REFERENCES excursions(id),"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  status_was TEXT NOT NULL,"
    "  quarantined INTEGER NOT NULL CHECK (quarantined IN (0, 1)),"
    "  decision TEXT CHECK (decision IN ('released', 'rejected')),"
    "  decided_us INTEGER,"
    "  decided_by TEXT,"
    "  reference TEXT,"
    "  UNIQUE (excursion_id, kit_id));"
    "CREATE INDEX excursion_kits_by_kit ON excursion_kits(kit_id);",
    /* 7 -> 8: accountability.  Each status a kit enters, when and by whom (the history that
     * reconciliation as of a past date and the DARF log read; a site upgraded from an older
     * version has no rows for what happened before); a trial's compliance limits; subject
     * returns and losses; destructions with their witness; returns to the sponsor and their
     * kits; the cosignatures of the site's checkpoints by witnesses (monitors); sign-offs. */
    "CREATE TABLE kit_events("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
    "  status TEXT NOT NULL,"
    "  at_us INTEGER NOT NULL,"
    "  by_user TEXT NOT NULL);"
    "CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us);"
    "CREATE TABLE compliance_limits("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL UNIQUE REFERENCES trials(id),"
    "  low_pct INTEGER NOT NULL CHECK (low_pct BETWEEN 0 AND 1000),"
    "  high_pct INTEGER NOT NULL CHECK (high_pct BETWEEN 0 AND 1000),"
    "  CHECK (low_pct <= high_pct));"
    "CREATE TABLE kit_returns("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id),"
    "  dispensation_id INTEGER NOT NULL REFERENCES dispensations(id),"
    "  lost INTEGER NOT NULL CHECK (lost IN (0, 1)),"
    "  units INTEGER CHECK (units >= 0),"
    "  returned_on TEXT NOT NULL,"
    "  condition TEXT,"
    "  recorded_us INTEGER NOT NULL,"
    "  recorded_by TEXT NOT NULL,"
    "  CHECK (lost = 0 OR units IS NULL));"
    "CREATE TABLE destructions("
    "  id INTEGER PRIMARY KEY,"
    "  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id),"
    "  method TEXT NOT NULL,"
    "  certificate TEXT NOT NULL,"
    "  destroyed_us INTEGER NOT NULL,"
    "  destroyed_by TEXT NOT NULL,"
    "  witness TEXT NOT NULL);"
    "CREATE TABLE shipbacks("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  number TEXT NOT NULL,"
    "  destination TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('packed', 'dispatched')),"
    "  packed_us INTEGER NOT NULL,"
    "  packed_by TEXT NOT NULL,"
    "  dispatched_us INTEGER,"
    "  dispatched_by TEXT,"
    "  reference TEXT,"
    "  UNIQUE (trial_id, number));"
    "CREATE TABLE shipback_kits("
    "  id INTEGER PRIMARY KEY,"
    "  shipback_id INTEGER NOT NULL REFERENCES shipbacks(id),"
    "  kit_id INTEGER NOT NULL UNIQUE REFERENCES kits(id));"
    "CREATE INDEX shipback_kits_by_shipback ON shipback_kits(shipback_id);"
    "CREATE TABLE cosignatures("
    "  id INTEGER PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  witness TEXT NOT NULL,"
    "  vkey TEXT NOT NULL,"
    "  note TEXT NOT NULL,"
    "  stored_us INTEGER NOT NULL,"
    "  stored_by TEXT NOT NULL,"
    "  UNIQUE (vkey, size));"
    "CREATE TABLE signoffs("
    "  id INTEGER PRIMARY KEY,"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('reconciliation')),"
    "  as_of TEXT NOT NULL,"
    "  balanced INTEGER NOT NULL CHECK (balanced IN (0, 1)),"
    "  ledger_size INTEGER NOT NULL,"
    "  signed_us INTEGER NOT NULL,"
    "  signed_by TEXT NOT NULL,"
    "  comment TEXT);",
    /* 8 -> 9: a kit's history read from the index alone.  kit_events_by_kit gains the row's id
     * (the tie-break after the time), its status and its user, so that the reconciliation's
     * look-up of a kit's status now or as of a day, PostgreSQL's pass over every kit's newest
     * row and the DARF log's pass over every row read no table row (docs/performance.md). */
    ("DROP INDEX kit_events_by_kit;"
     "CREATE INDEX kit_events_by_kit ON kit_events(kit_id, at_us, id, status, by_user);"),
    /* 9 -> 10: the DARF log's lines.  A copy of each history row that may be a line of its kit
     * type's log (DARF_LINE below), with the kit type, so that the log is one pass along an
     * index in time order, with no sort of the whole history (docs/performance.md).  The rows of
     * the history before the upgrade are derived by the upgrade's own entry (derivations). */
    ("CREATE TABLE darf_lines("
     "  id INTEGER PRIMARY KEY REFERENCES kit_events(id),"
     "  kit_type_id INTEGER NOT NULL REFERENCES kit_types(id),"
     "  kit_id INTEGER NOT NULL REFERENCES kits(id),"
     "  status TEXT NOT NULL,"
     "  at_us INTEGER NOT NULL,"
     "  by_user TEXT NOT NULL);"
     "CREATE INDEX darf_lines_by_kit_type"
     " ON darf_lines(kit_type_id, at_us, id, kit_id, status, by_user);"),
};

/* A history row w (with prev, the status of its kit's row before it, NULL for its first) that
 * may be a line of the DARF log: every status but those inside the stock, and a status inside
 * the stock that is the kit's first or follows a time away (missing, in transit).  The rest
 * change nothing of the balance.  Part of a shipped derivation, so never edited; stock.c writes
 * the rows of later history by the same rule (DARF_LINE there). */
#define DARF_LINE_9                                                                            \
    "(w.status NOT IN ('available', 'quarantined', 'expired', 'damaged',"                      \
    " 'pending_destruction') OR w.prev IS NULL OR w.prev IN ('missing', 'in_transit'))"

/* Rows a migration derives from the site's rows, by the version it makes (NULL: none).  They are
 * written by the site's ledger.upgrade entry, captured like any action's rows, so that a replay
 * of the ledger holds them as the site does: a migration itself writes no row.  The entry runs
 * them after the last migration, so a later migration that changes a table one reads or writes
 * must keep it valid on the newer schema (or the entry must run it after its own migration). */
static const char *const derivations[CTM_SCHEMA_VERSION] = {
    [9] = "INSERT INTO darf_lines(id, kit_type_id, kit_id, status, at_us, by_user)"
          " SELECT w.id, k.kit_type_id, w.kit_id, w.status, w.at_us, w.by_user"
          " FROM (SELECT e.id, e.kit_id, e.status, e.at_us, e.by_user, LAG(e.status)"
          "  OVER (PARTITION BY e.kit_id ORDER BY e.at_us, e.id) AS prev FROM kit_events e) w"
          " JOIN kits k ON k.id = w.kit_id WHERE " DARF_LINE_9 " ORDER BY w.id",
};

const char *ctm__schema_derivation(int v)
{
    return v >= 0 && v < CTM_SCHEMA_VERSION ? derivations[v] : NULL;
}

/* PostgreSQL's own text of a migration that the type translation (ctm__schema_postgres) cannot
 * give; NULL: the translated migration.  ALTER TABLE keeps the table, its grants and the
 * guard and capture triggers of store/postgres.c. */
static const char *const postgres_migrations[CTM_SCHEMA_VERSION] = {
    [3] = "ALTER TABLE kits ADD CONSTRAINT kits_status_check"
          " CHECK (status IN (" KIT_STATUSES_4 "))",
};

int ctm__table_is_secret(const char *table)
{
    return strcmp(table, "credentials") == 0;
}

_Static_assert(sizeof migrations / sizeof migrations[0] == CTM_SCHEMA_VERSION,
               "one migration per schema version");

const char *ctm__schema_migration(int v)
{
    return v >= 0 && v < CTM_SCHEMA_VERSION ? migrations[v] : NULL;
}

/* The migrations are written in SQLite's dialect, the one verify replays into.  PostgreSQL gets
 * the same tables with its own type names: a word in capitals outside a string literal is a type
 * (column and table names are in lower case), and
 *   INTEGER PRIMARY KEY  ->  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY
 *                            (a new row without an id gets the next one, as SQLite's rowid)
 *   INTEGER -> BIGINT,  BLOB -> BYTEA,  REAL -> DOUBLE PRECISION
 * so every integer holds 64 bits and a value reads back as the type it was written with.  The
 * result is malloc'ed (NULL when out of memory). */
static const struct {
    const char *from, *to;
} pg_types[] = {
    { "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" },
    { "INTEGER", "BIGINT" },
    { "BLOB", "BYTEA" },
    { "REAL", "DOUBLE PRECISION" },
};

char *ctm__schema_postgres(const char *sql)
{
    size_t n = strlen(sql), cap = 2 * n + 64, o = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int quoted = 0;
    for (size_t i = 0; i < n;) {
        if (sql[i] == '\'') {
            quoted = !quoted;
        } else if (!quoted && sql[i] >= 'A' && sql[i] <= 'Z' &&
                   (i == 0 || !(sql[i - 1] == '_' || (sql[i - 1] >= 'a' && sql[i - 1] <= 'z') ||
                                (sql[i - 1] >= 'A' && sql[i - 1] <= 'Z') ||
                                (sql[i - 1] >= '0' && sql[i - 1] <= '9')))) {
            size_t k;
            for (k = 0; k < sizeof pg_types / sizeof pg_types[0]; k++) {
                size_t len = strlen(pg_types[k].from);
                char next = sql[i + len < n ? i + len : n];
                if (strncmp(sql + i, pg_types[k].from, len) == 0 &&
                    !(next == '_' || (next >= 'a' && next <= 'z') ||
                      (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9'))) {
                    size_t tl = strlen(pg_types[k].to);
                    if (o + tl + (n - i) + 1 > cap) {
                        cap = 2 * (o + tl + (n - i) + 1);
                        char *grown = realloc(out, cap);
                        if (grown == NULL) {
                            free(out);
                            return NULL;
                        }
                        out = grown;
                    }
                    memcpy(out + o, pg_types[k].to, tl);
                    o += tl;
                    i += len;
                    break;
                }
            }
            if (k < sizeof pg_types / sizeof pg_types[0])
                continue;
        }
        if (o + 2 > cap) {
            cap *= 2;
            char *grown = realloc(out, cap);
            if (grown == NULL) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        out[o++] = sql[i++];
    }
    out[o] = '\0';
    return out;
}

char *ctm__schema_postgres_migration(int v)
{
    if (v < 0 || v >= CTM_SCHEMA_VERSION)
        return NULL;
    return postgres_migrations[v] != NULL ? ctm__strdup(postgres_migrations[v])
                                          : ctm__schema_postgres(migrations[v]);
}

int ctm__schema_apply(ctm__store *s, int from, int to)
{
    for (int v = from; v < to; v++) {
        if (migrations[v][0] == '\0')
            continue;
        int rc;
        if (ctm__store_engine(s) == CTM__ENGINE_POSTGRES) {
            char *sql = ctm__schema_postgres_migration(v);
            if (sql == NULL)
                return ctm__err(CTM_ENOMEM, "schema migration: out of memory");
            rc = ctm__store_exec(s, sql);
            free(sql);
        } else {
            rc = ctm__store_exec(s, migrations[v]);
        }
        if (rc != CTM_OK)
            return ctm__store_fail(rc, "schema migration");
    }
    int rc = ctm__store_set_schema_version(s, to);
    return rc == CTM_OK ? CTM_OK : ctm__store_fail(rc, "schema version");
}
