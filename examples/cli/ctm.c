/*
 * ctm.c - the `ctm` command: global options, the table of commands, help, and the steps every
 * command shares (open the database, log in, report failures as one line on stderr).
 *
 *   ctm [--db PATH] [--user NAME] COMMAND ...
 *
 * Exit status: 0 on success, 1 on failure, 2 on wrong usage.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GLOBAL_SYNOPSIS "ctm [--db PATH] [--user NAME] [--site-key FILE] COMMAND ..."

/* ---- the commands ---- */

static int cmd_help(struct cli_session *s, const struct cli_args *a);

#define END_OPTS { NULL, OPT_FLAG, 0, NULL }
static const struct cli_opt no_opts[] = { END_OPTS };
static const struct cli_opt init_opts[] = {
    { "site", OPT_VALUE, 1, NULL }, { "admin", OPT_VALUE, 1, NULL },
    { "name", OPT_VALUE, 0, NULL }, { "origin", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt user_add_opts[] = {
    { "role", OPT_VALUE, 1, NULL }, { "unblinded", OPT_FLAG, 0, NULL },
    { "name", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt listing_opts[] = {
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt reason_opts[] = { { "reason", OPT_VALUE, 1, NULL }, END_OPTS };
static const struct cli_opt user_role_opts[] = {
    { "role", OPT_VALUE, 1, NULL }, { "unblinded", OPT_FLAG, 0, "blinded" },
    { "blinded", OPT_FLAG, 0, NULL }, { "reason", OPT_VALUE, 1, NULL }, END_OPTS
};
static const struct cli_opt audit_log_opts[] = {
    { "from", OPT_NUMBER, 0, NULL }, { "limit", OPT_NUMBER, 0, NULL },
    { "last", OPT_NUMBER, 0, "limit" }, { "by", OPT_VALUE, 0, NULL },
    { "action", OPT_VALUE, 0, NULL }, { "since", OPT_VALUE, 0, NULL },
    { "until", OPT_VALUE, 0, NULL }, { "trial", OPT_VALUE, 0, NULL },
    { "kit", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt audit_note_opts[] = { { "sign", OPT_VALUE, 0, NULL }, END_OPTS };
static const struct cli_opt audit_verify_opts[] = {
    { "checkpoint", OPT_VALUE, 0, NULL }, { "key", OPT_VALUE, 0, "key-file" },
    { "key-file", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt audit_witness_opts[] = {
    { "key-file", OPT_VALUE, 1, NULL }, { "state", OPT_VALUE, 1, NULL },
    { "site-vkey", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt audit_witness_key_opts[] = {
    { "name", OPT_VALUE, 1, NULL }, { "out", OPT_VALUE, 1, NULL }, END_OPTS
};

static const struct cli_opt trial_add_opts[] = {
    { "title", OPT_VALUE, 1, NULL }, { "sponsor", OPT_VALUE, 1, NULL },
    { "blinded", OPT_FLAG, 0, NULL }, { "arms", OPT_VALUE, 1, NULL }, END_OPTS
};
static const struct cli_opt kittype_add_opts[] = {
    { "name", OPT_VALUE, 1, NULL }, { "units", OPT_NUMBER, 1, NULL },
    { "storage", OPT_VALUE, 1, NULL }, { "dnd-days", OPT_NUMBER, 0, NULL },
    { "dose-form", OPT_VALUE, 0, NULL }, { "strength", OPT_VALUE, 0, NULL },
    { "budget", OPT_VALUE, 0, NULL }, { "dispensing-days", OPT_NUMBER, 0, NULL }, END_OPTS
};
static const struct cli_opt location_add_opts[] = {
    { "range", OPT_VALUE, 1, NULL }, { "kind", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt receive_opts[] = {
    { "shipment", OPT_VALUE, 1, NULL }, { "manifest", OPT_VALUE, 1, NULL },
    { "location", OPT_VALUE, 1, NULL }, { "excursion", OPT_FLAG, 0, NULL },
    { "origin", OPT_VALUE, 0, NULL }, { "date", OPT_VALUE, 0, NULL },
    { "logger", OPT_VALUE, 0, NULL }, { "logger-format", OPT_VALUE, 0, NULL },
    { "logger-tz", OPT_VALUE, 0, NULL }, { "logger-date-order", OPT_VALUE, 0, NULL },
    { "logger-unit", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt receive_bulk_opts[] = {
    { "shipment", OPT_VALUE, 1, NULL }, { "kittype", OPT_VALUE, 1, NULL },
    { "lot", OPT_VALUE, 1, NULL }, { "expiry", OPT_VALUE, 1, NULL },
    { "units", OPT_NUMBER, 1, NULL }, { "location", OPT_VALUE, 1, NULL },
    { "origin", OPT_VALUE, 0, NULL }, { "date", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt lots_opts[] = {
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt receive_scan_opts[] = { { "damaged", OPT_FLAG, 0, NULL }, END_OPTS };
static const struct cli_opt receive_confirm_opts[] = {
    { "unchecked-present", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt shipments_opts[] = {
    { "trial", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt kits_opts[] = {
    { "trial", OPT_VALUE, 0, NULL }, { "status", OPT_VALUE, 0, NULL },
    { "location", OPT_VALUE, 0, NULL }, { "lot", OPT_VALUE, 0, NULL },
    { "expiring", OPT_NUMBER, 0, NULL }, { "json", OPT_FLAG, 0, "csv" },
    { "csv", OPT_FLAG, 0, NULL }, { "shipment", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt json_opts[] = { { "json", OPT_FLAG, 0, NULL }, END_OPTS };
static const struct cli_opt expiry_extend_opts[] = {
    { "to", OPT_VALUE, 1, NULL }, { "reference", OPT_VALUE, 1, NULL },
    { "lot", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt transfer_opts[] = {
    { "to", OPT_VALUE, 1, NULL }, { "reason", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt transfer_out_opts[] = {
    { "site", OPT_VALUE, 1, NULL }, { "shipment", OPT_VALUE, 1, NULL },
    { "reason", OPT_VALUE, 0, NULL }, END_OPTS
};

static const struct cli_opt random_generate_opts[] = {
    { "size", OPT_NUMBER, 1, NULL }, { "blocks", OPT_VALUE, 1, NULL },
    { "strata", OPT_VALUE, 0, NULL }, { "seed", OPT_VALUE, 0, NULL },
    { "extend", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt random_import_opts[] = {
    { "format", OPT_VALUE, 0, NULL }, { "strata", OPT_VALUE, 0, NULL },
    { "extend", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt random_minimization_opts[] = {
    { "strata", OPT_VALUE, 1, NULL }, { "factors", OPT_VALUE, 1, NULL },
    { "p", OPT_VALUE, 0, NULL }, { "method", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt subject_add_opts[] = { { "strata", OPT_VALUE, 0, NULL }, END_OPTS };
static const struct cli_opt optional_reason_opts[] = {
    { "reason", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt visit_add_opts[] = {
    { "day", OPT_NUMBER, 1, NULL }, { "window", OPT_VALUE, 1, NULL },
    { "kits", OPT_VALUE, 1, NULL }, { "from", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt temp_import_opts[] = {
    { "format", OPT_VALUE, 0, NULL }, { "tz", OPT_VALUE, 0, NULL },
    { "date-order", OPT_VALUE, 0, NULL }, { "unit", OPT_VALUE, 0, NULL },
    { "json", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt temp_list_opts[] = {
    { "from", OPT_VALUE, 0, NULL }, { "to", OPT_VALUE, 0, NULL },
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt temp_mkt_opts[] = {
    { "from", OPT_VALUE, 0, NULL }, { "to", OPT_VALUE, 0, NULL },
    { "energy", OPT_VALUE, 0, NULL }, { "max-gap", OPT_NUMBER, 0, NULL },
    { "json", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt location_alarm_opts[] = {
    { "delay", OPT_NUMBER, 1, NULL }, { "max-gap", OPT_NUMBER, 1, NULL }, END_OPTS
};
static const struct cli_opt excursions_opts[] = {
    { "open", OPT_FLAG, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt excursion_decide_opts[] = {
    { "release", OPT_FLAG, 0, "reject" }, { "reject", OPT_FLAG, 0, NULL },
    { "reference", OPT_VALUE, 1, NULL }, { "kit", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt excursion_report_opts[] = {
    { "format", OPT_VALUE, 0, NULL }, { "output", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt report_opts[] = {
    { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, "html" },
    { "html", OPT_FLAG, 0, "json" }, { "as-of", OPT_VALUE, 0, NULL },
    { "from", OPT_VALUE, 0, NULL }, { "to", OPT_VALUE, 0, NULL },
    { "days", OPT_NUMBER, 0, NULL }, { "kit-type", OPT_VALUE, 0, NULL },
    { "output", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt return_opts[] = {
    { "units", OPT_NUMBER, 1, NULL }, { "condition", OPT_VALUE, 0, NULL },
    { "date", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt lost_opts[] = {
    { "reason", OPT_VALUE, 1, NULL }, { "date", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt compliance_opts[] = {
    { "subject", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt compliance_limits_opts[] = {
    { "low", OPT_NUMBER, 1, NULL }, { "high", OPT_NUMBER, 1, NULL }, END_OPTS
};
static const struct cli_opt destroy_opts[] = {
    { "method", OPT_VALUE, 1, NULL }, { "certificate", OPT_VALUE, 1, NULL },
    { "witness", OPT_VALUE, 1, NULL }, END_OPTS
};
static const struct cli_opt shipback_opts[] = {
    { "shipment", OPT_VALUE, 1, NULL }, { "destination", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt shipback_manifest_opts[] = { { "output", OPT_VALUE, 0, NULL }, END_OPTS };
static const struct cli_opt shipback_dispatch_opts[] = {
    { "reference", OPT_VALUE, 1, NULL }, END_OPTS
};
static const struct cli_opt reconcile_opts[] = {
    { "as-of", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt darf_opts[] = {
    { "kit-type", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, "csv" },
    { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt signoff_opts[] = {
    { "reconciliation", OPT_FLAG, 1, NULL }, { "as-of", OPT_VALUE, 0, NULL },
    { "comment", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt forecast_opts[] = {
    { "days", OPT_NUMBER, 0, NULL }, { "json", OPT_FLAG, 0, "csv" }, { "csv", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt self_inspection_opts[] = {
    { "stale-days", OPT_NUMBER, 0, NULL }, { "json", OPT_FLAG, 0, "csv" },
    { "csv", OPT_FLAG, 0, NULL }, END_OPTS
};
static const struct cli_opt export_opts[] = {
    { "output", OPT_VALUE, 0, NULL }, { "from", OPT_VALUE, 0, NULL }, { "to", OPT_VALUE, 0, NULL },
    END_OPTS
};
static const struct cli_opt dose_levels_opts[] = {
    { "levels", OPT_VALUE, 1, NULL }, { "start", OPT_NUMBER, 1, NULL },
    { "min-interval", OPT_NUMBER, 1, NULL }, { "max-titrations", OPT_NUMBER, 1, NULL }, END_OPTS
};

static const struct cli_opt dispense_assign_opts[] = {
    { "visit", OPT_VALUE, 1, NULL }, { "override", OPT_VALUE, 0, NULL },
    { "titrate", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, NULL },
    { "csv", OPT_FLAG, 0, "json" }, END_OPTS
};
static const struct cli_opt dispense_confirm_opts[] = { { "scan", OPT_VALUE, 0, NULL }, END_OPTS };
static const struct cli_opt dispense_replace_opts[] = {
    { "reason", OPT_VALUE, 1, NULL }, { "lost", OPT_FLAG, 0, NULL }, { "json", OPT_FLAG, 0, NULL },
    END_OPTS
};
static const struct cli_opt dispense_record_opts[] = {
    { "visit", OPT_VALUE, 1, NULL }, { "at", OPT_VALUE, 1, NULL },
    { "reason", OPT_VALUE, 1, NULL }, { "scan", OPT_VALUE, 0, NULL }, END_OPTS
};
static const struct cli_opt dispensations_opts[] = {
    { "subject", OPT_VALUE, 0, NULL }, { "json", OPT_FLAG, 0, NULL },
    { "csv", OPT_FLAG, 0, "json" }, END_OPTS
};

static const struct cli_opt migrate_opts[] = { { "to", OPT_VALUE, 1, NULL }, END_OPTS };
static const struct cli_opt scan_opts[] = { { "json", OPT_FLAG, 0, NULL }, END_OPTS };

static const struct cli_command commands[] = {
    { "init", "--site NAME --admin USER [--name \"PRINTED NAME\"] [--origin ORIGIN]",
      "Create a database, its site signing key and the first administrator",
      "The database file is created if needed; the site's signing key is written beside it as\n"
      "<database>.key (mode 0600).  The administrator's password comes from $CTM_NEW_PASSWORD,\n"
      "else $CTM_PASSWORD, else it is asked twice on the terminal.  --origin sets the checkpoint\n"
      "origin line (default: libctm/<site name>).  Prints the site's verifier key: keep a copy\n"
      "of it outside this machine, so that `ctm audit verify --key` can check the ledger\n"
      "against a key nobody with access to the database can change.",
      init_opts, NULL, 0, 0, 0, ACCESS_CREATE, cmd_init },
    { "migrate", "--to TARGET",
      "Copy the site, its ledger byte for byte, into a new database (administrators only)",
      "TARGET is an empty PostgreSQL database (postgresql://... or a libpq \"key=value\"\n"
      "string) or a file that does not exist yet.  Every row is copied as it is: the copy has\n"
      "the same entries, roots and checkpoints, so a checkpoint held from before the move still\n"
      "proves the copy's log extends it.  Writers wait while the copy runs; nothing is left in\n"
      "TARGET if it fails, and the site itself is not changed.  Afterwards every workstation uses\n"
      "--db TARGET with the same site key file (--site-key).",
      migrate_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_migrate },
    { "user add", "NAME --role ROLE [--unblinded] [--name \"PRINTED NAME\"]",
      "Add a user (administrators only)",
      "ROLE is one of admin, pharmacist, technician, investigator, monitor.  --unblinded lets\n"
      "the user see treatment arms.  The new user's password comes from $CTM_NEW_PASSWORD or\n"
      "is asked twice on the terminal.  The change is e-signed by the administrator.",
      user_add_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_add },
    { "user list", "[--json|--csv]", "List the users", NULL,
      listing_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_user_list },
    { "user disable", "NAME --reason TEXT", "Disable a user account (administrators only)", NULL,
      reason_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_disable },
    { "user enable", "NAME --reason TEXT", "Re-enable a user account (administrators only)", NULL,
      reason_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_enable },
    { "user role", "NAME --role ROLE [--unblinded|--blinded] --reason TEXT",
      "Change a user's role (administrators only)",
      "Without --unblinded or --blinded the user's blinding stays as it is.",
      user_role_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_user_role },
    { "user passwd", "[NAME]", "Change your password, or reset another user's (administrators)",
      "The new password comes from $CTM_NEW_PASSWORD or is asked twice on the terminal.\n"
      "Changing your own password gives you a new e-signature key (\"password changed\").  An\n"
      "administrator resetting another user's password leaves that user no usable key: they\n"
      "can do nothing but choose their own password, with 'ctm user passwd'.",
      no_opts, "NAME", 0, 1, 0, ACCESS_LOGIN, cmd_user_passwd },
    { "trial add", "CODE --title TEXT --sponsor TEXT [--blinded] --arms ARM:RATIO,...",
      "Add a trial (administrators and pharmacists)",
      "--arms gives each arm's code and allocation ratio, for example A:1,B:1 or\n"
      "ACTIVE:2,PLACEBO:1.  A --blinded trial needs at least two arms; its arms are then shown\n"
      "only to unblinded users.",
      trial_add_opts, "CODE", 1, 1, 0, ACCESS_LOGIN, cmd_trial_add },
    { "trial list", "[--json|--csv]", "List the trials", NULL,
      listing_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_trial_list },
    { "kittype add",
      "TRIAL CODE --name TEXT --units N --storage MIN..MAX [--dnd-days D] [--dose-form F] "
      "[--strength S] [--budget MINUTES@MAXC] [--dispensing-days D]",
      "Add a kit type (product) to a trial",
      "--units is the number of units in one kit (30 tablets).  --storage is the storage range in\n"
      "degrees Celsius, such as 2..8 or -25..-15 (decimals take a dot: 2.5..8).  --dnd-days is\n"
      "the do-not-dispense window: a kit is not dispensed within D days of its expiry (default\n"
      "0).  --budget is the excursion budget, cumulative minutes allowed out of range up to a\n"
      "highest temperature: 1440@15 is 24 hours up to 15 C.  --dispensing-days is how many days\n"
      "one kit covers.",
      kittype_add_opts, "TRIAL and CODE", 2, 2, 0, ACCESS_LOGIN, cmd_kittype_add },
    { "kittype list", "[TRIAL] [--json|--csv]", "List the kit types of one trial or all", NULL,
      listing_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_kittype_list },
    { "location add", "NAME --range MIN..MAX [--kind KIND]", "Add a storage location",
      "--range is the location's temperature range in degrees Celsius, such as 2..8 for a\n"
      "fridge or -25..-15 for a freezer (decimals take a dot).  --kind says what it is (fridge,\n"
      "freezer, room, cabinet...; default \"storage\").",
      location_add_opts, "NAME", 1, 1, 0, ACCESS_LOGIN, cmd_location_add },
    { "location list", "[--json|--csv]", "List the storage locations and their kits", NULL,
      listing_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_location_list },
    { "location alarm", "LOCATION --delay MINUTES --max-gap MINUTES",
      "Set when a location's readings make an excursion (administrators, pharmacists)",
      "--delay: readings out of the location's range for at least this many minutes (0 to\n"
      "1440; 0: any reading out of range) are an excursion.  --max-gap: a gap between readings\n"
      "longer than this many minutes (1 to 10080) is an excursion of unknown temperature.  A\n"
      "location never set uses a delay of 30 and a gap of 60 minutes.  The settings apply to\n"
      "the imports that follow; excursions recorded before keep what they were judged against.",
      location_alarm_opts, "LOCATION", 1, 1, 0, ACCESS_LOGIN, cmd_location_alarm },
    { "receive scan", "SHIPMENT [--damaged]",
      "Check the kits of a shipment under receipt, one scan per line of input",
      "Reads one barcode (a GS1 element string from the pack's DataMatrix) or kit number per\n"
      "line of standard input.  A GS separator the scanner cannot type may be written <GS> or\n"
      "\\x1d.  Each line prints the running count and what the scan found (ok, already checked,\n"
      "lot or expiry differs, not on the manifest); an unreadable barcode is reported on stderr\n"
      "with the reason, the other lines go on, and the command exits 1 at the end, after its\n"
      "summary.  The shipment is checked before any line is read: an unknown number or a\n"
      "confirmed receipt fails at once.  --damaged records every kit scanned in this run as\n"
      "damaged.  A wrong scan is undone with 'ctm receive unscan'.\n\n"
      "At the terminal each scan is saved at once; end with Ctrl-D.  From a file or a pipe the\n"
      "scans are saved 200 at a time.\n\n"
      "  ctm receive scan SH-0042 < scans.txt",
      receive_scan_opts, "SHIPMENT", 1, 1, 0, ACCESS_LOGIN, cmd_receive_scan },
    { "receive status", "SHIPMENT [--json]",
      "Show how far the checks of a shipment have come, before confirming",
      "One line per count: kits on the manifest, unchecked, checked, ok, mismatched (lot or\n"
      "expiry differed), damaged, extra (scans not on the manifest) and discrepancies\n"
      "recorded so far, with the shipment's trial and status.",
      json_opts, "SHIPMENT", 1, 1, 0, ACCESS_LOGIN, cmd_receive_status },
    { "receive unscan", "SHIPMENT KIT --reason TEXT",
      "Undo a wrong scan of a shipment under receipt",
      "KIT is the kit number, or the barcode, that was scanned by mistake.  The kit is unchecked\n"
      "again and the discrepancies that scan recorded (damaged, lot or expiry mismatch, or the\n"
      "extra for a barcode not on the manifest) are removed.  The audit trail keeps them, with\n"
      "your reason.",
      reason_opts, "SHIPMENT and KIT", 2, 2, 0, ACCESS_LOGIN, cmd_receive_unscan },
    { "receive void", "SHIPMENT --reason TEXT",
      "Void a shipment registered by mistake, before confirmation, e-signed (pharmacists)",
      "For a registration that should not have been made (wrong trial, location or manifest).\n"
      "The shipment, its kits, their moves and its discrepancies are removed and its kits leave\n"
      "stock; the audit trail keeps all of it, with your reason and e-signature (\"shipment\n"
      "voided\").  The shipment number is then free to register the shipment again.  A\n"
      "confirmed receipt cannot be voided.",
      reason_opts, "SHIPMENT", 1, 1, 0, ACCESS_LOGIN, cmd_receive_void },
    { "receive confirm", "SHIPMENT [--unchecked-present]",
      "Confirm a receipt, e-signed (pharmacists)",
      "Ends the receipt: checked kits become available (quarantined when the shipment's logger\n"
      "showed an excursion or their lot or expiry did not match), damaged ones damaged, and the\n"
      "kits nobody scanned missing, unless --unchecked-present declares that they were checked\n"
      "by hand and are present.  The confirmation carries your e-signature (\"receipt\n"
      "confirmed\").  Prints how many kits ended in each status.",
      receive_confirm_opts, "SHIPMENT", 1, 1, 0, ACCESS_LOGIN, cmd_receive_confirm },
    { "receive bulk",
      "TRIAL --shipment NUMBER --kittype CODE --lot LOT --expiry YYYY-MM-DD --units N "
      "--location LOCATION [--origin DEPOT] [--date YYYY-MM-DD]",
      "Receive open-label bulk supply counted per lot, e-signed (pharmacists)",
      "For open-label trials supplied in bulk rather than numbered kits: N units of LOT arrive\n"
      "at LOCATION and are counted per lot.  The receipt is confirmed at once with your\n"
      "e-signature.  Blinded trials are refused: their supply comes as numbered kits.",
      receive_bulk_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_receive_bulk },
    { "lots", "[TRIAL] [--json|--csv]", "List lots with their kits and bulk units on site",
      "One row per lot: trial, lot, kit_type, expiry, gtin, kits (numbered kits on site),\n"
      "bulk_units (units of bulk supply on site), dispensable (1 when outside the\n"
      "do-not-dispense window today).",
      lots_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_lots },
    { "receive discrepancies", "SHIPMENT [--json|--csv]",
      "List what did not match the manifest of a shipment",
      "One row per discrepancy: kit_number, kind (missing, extra, damaged, lot_mismatch,\n"
      "expiry_mismatch), detail, recorded, recorded_by, shipment.",
      listing_opts, "SHIPMENT", 1, 1, 0, ACCESS_LOGIN, cmd_receive_discrepancies },
    { "receive",
      "TRIAL --shipment NUMBER --manifest FILE --location LOCATION [--excursion] "
      "[--origin DEPOT] [--date WHEN] [--logger FILE [--logger-format F] "
      "[--logger-tz ZONE] [--logger-date-order O] [--logger-unit C|F]]",
      "Register an arrived shipment from its manifest",
      "FILE is the depot's manifest, CSV with the header kit_number,kit_type,lot,expiry and\n"
      "optionally arm, gtin, serial, in any order (expiry as YYYY-MM-DD); \"-\" reads it from\n"
      "standard input.  A malformed manifest is refused whole, naming its line and field.\n"
      "Every kit is registered as received at LOCATION and stays unusable until the receipt\n"
      "is confirmed.  --excursion: the shipment's temperature logger showed an excursion, so\n"
      "the kits go to quarantine on confirmation.  --date: when it arrived, YYYY-MM-DD or\n"
      "YYYY-MM-DDTHH:MM[:SS]Z: the kits' receipt is dated then (a day before today: at its\n"
      "start, UTC), so dispensings made on paper since can be recorded with\n"
      "'ctm dispense record'.\n\n"
      "--logger FILE imports the logger file that travelled with the shipment in the same\n"
      "step, as 'ctm receive logger' does: any time out of the narrowest storage range of the\n"
      "shipment's kit types is recorded as an excursion, and the kits go to quarantine on\n"
      "confirmation.  --logger-format, --logger-tz, --logger-date-order and --logger-unit read\n"
      "it as --format, --tz, --date-order and --unit of 'ctm temp import' do.\n\n"
      "Then: 'ctm receive scan NUMBER' to check the kits, 'ctm receive confirm NUMBER' to end\n"
      "the receipt.",
      receive_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_receive },
    { "receive logger",
      "SHIPMENT FILE [--format csv|logtag|berlinger] [--tz ZONE] [--date-order YMD|DMY|MDY] "
      "[--unit C|F] [--json]",
      "Import the logger file that travelled with a shipment under receipt",
      "Pharmacists and technicians, before the receipt is confirmed.  FILE and the options as\n"
      "for 'ctm temp import'.  The readings belong to the shipment, not to a location: any time\n"
      "out of the narrowest storage range of the shipment's kit types, however short, is\n"
      "recorded as an excursion with every kit of the shipment, and confirming the receipt\n"
      "puts them in quarantine until the sponsor decides ('ctm excursion decide').",
      temp_import_opts, "SHIPMENT and FILE", 2, 2, 0, ACCESS_LOGIN, cmd_receive_logger },
    { "shipments", "[--trial TRIAL] [--json|--csv]", "List shipments received and sent", NULL,
      shipments_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_shipments },
    { "kits",
      "[--trial T] [--status S] [--location L] [--lot L] [--expiring DAYS] [--shipment NO] "
      "[--json|--csv]",
      "List kits",
      "Filters combine.  --status is one of in_transit, received, available, dispensed,\n"
      "returned, pending_destruction, destroyed, returned_to_sponsor, quarantined, damaged,\n"
      "missing, lost_by_subject, expired, not_dispensed.  --expiring DAYS lists the kits whose\n"
      "expiry falls within DAYS days or has passed.  --shipment NO lists the kits that incoming\n"
      "shipment NO brought.  dispensable is 1 for a kit that could be dispensed today.  Blinded\n"
      "users see \"(blinded)\" in place of the arm.",
      kits_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_kits },
    { "kit status", "TRIAL KIT STATUS --reason TEXT", "Change a kit's status by hand",
      "For quarantine (STATUS quarantined), release from quarantine (available), damaged,\n"
      "missing, found again, expired, or rejection (pending_destruction).  Dispensing, returns\n"
      "and destruction have their own commands.  Technicians may quarantine kits and report\n"
      "them damaged or missing; the rest is for pharmacists.",
      reason_opts, "TRIAL, KIT and STATUS", 3, 3, 0, ACCESS_LOGIN, cmd_kit_status },
    { "kit show", "[TRIAL] KIT [--json]", "Show everything about one kit",
      "Trial, kit type, lot, expiry, status, location, units, arm (blinded users see\n"
      "\"(blinded)\"), dispensable, the shipment that brought it and what its check at receipt\n"
      "found, its GTIN and serial, then where it has been stored (history).  KIT is the kit\n"
      "number or a scan of its pack (a GS1 barcode whose (21) serial names the kit; type the\n"
      "GS separator as <GS>); this holds for every command that takes a kit.  Without TRIAL\n"
      "the kit is looked for in every trial.",
      json_opts, "KIT", 1, 2, 0, ACCESS_LOGIN, cmd_kit_show },
    { "kit exposure", "[TRIAL] KIT [--json]",
      "Show a kit's time out of its storage range, against its excursion budget",
      "Over each stay in a storage location, each reading of the location's logger holds until\n"
      "the next one (at most 60 minutes): the minutes above and below the kit type's storage\n"
      "range are summed, with the lowest and highest reading, the mean kinetic temperature and\n"
      "the minutes no reading covers.  A kit with more time out of range than its budget, or a\n"
      "reading above the budget's highest temperature (without a budget: any time out of range),\n"
      "is flagged for rejection.  Computed from the readings stored: import the logger files\n"
      "first.  Exits 0 either way; --json gives the figures as one object.",
      json_opts, "KIT", 1, 2, 0, ACCESS_LOGIN, cmd_kit_exposure },
    { "kit history", "[TRIAL] KIT [--json|--csv]", "Show where a kit has been stored, and when",
      "KIT is the kit number or a scan of its pack.  Without TRIAL the kit is looked for in\n"
      "every trial.",
      listing_opts, "KIT", 1, 2, 0, ACCESS_LOGIN, cmd_kit_history },
    { "expiry extend", "TRIAL --to YYYY-MM-DD --reference REF (--lot LOT | KIT...)",
      "Extend the expiry of a lot or of kits (relabelling), e-signed (pharmacists)",
      "On the sponsor's written instruction, whose reference --reference records.  The new\n"
      "expiry must be later than the current one.  The change carries your e-signature\n"
      "(\"expiry extended\").",
      expiry_extend_opts, "TRIAL", 1, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_expiry_extend },
    { "transfer out", "TRIAL --site DESTINATION --shipment NUMBER [--reason TEXT] KIT...",
      "Send kits to another site (pharmacists)",
      "The kits leave this site's stock as an outgoing shipment NUMBER and are in_transit.",
      transfer_out_opts, "TRIAL and KIT", 2, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_transfer_out },
    { "transfer", "TRIAL --to LOCATION [--reason TEXT] KIT...",
      "Move kits to another storage location of this site",
      "Each kit's location history ('ctm kit history') keeps when it moved.  To send kits to\n"
      "another site, see 'ctm help transfer out'.",
      transfer_opts, "TRIAL and KIT", 2, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_transfer },
    { "random generate",
      "TRIAL --size N --blocks 4,6 [--strata \"sex=M,F;age=lt65,ge65\"] [--seed HEX] [--extend]",
      "Generate a trial's randomization list (unblinded pharmacists and administrators)",
      "Permuted blocks: each block's size is drawn from --blocks (each a multiple of the sum of\n"
      "the arm ratios), and a block holds the arms in their ratio in random order.  --size is\n"
      "the number of rows of each stratum; --strata gives the stratification factors and their\n"
      "levels, one list per combination.  --seed (64 hex digits) makes the list reproducible;\n"
      "without it a fresh seed is drawn, kept with the list and shown by 'ctm random show'.\n"
      "A list nobody was randomized from yet is replaced; one with allocations is only\n"
      "extended: --extend with a larger --size adds rows and keeps the old ones (the same seed\n"
      "gives the same rows).  The list, its seed and block sizes are never shown to blinded\n"
      "users.",
      random_generate_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_random_generate },
    { "random import", "TRIAL FILE [--format sponsor|blockrand|kits] [--strata SPEC] [--extend]",
      "Import a sponsor's randomization list or kit list (unblinded pharmacists and admins)",
      "FILE is CSV (\"-\" reads standard input):\n"
      "  sponsor    randomization_number,stratum,arm\n"
      "  blockrand  id,stratum,block.id,block.size,treatment (as R's blockrand writes it)\n"
      "  kits       kit_number,arm (the arm of each kit number; receipts then take manifests\n"
      "             without an arm column)\n"
      "Without --format the header tells.  --strata gives the factors the stratum column names:\n"
      "a stratum is written sex=M,age=ge65 or by its levels, M/ge65.  Subjects are allocated\n"
      "in file order within their stratum.  The file is checked whole: on an error nothing is\n"
      "imported and the message names the line and field.  --extend adds the file's rows after\n"
      "the list's own.",
      random_import_opts, "TRIAL and FILE", 2, 2, 0, ACCESS_LOGIN, cmd_random_import },
    { "random minimization",
      "TRIAL --strata \"site=SE1,SE2;sex=M,F\" --factors \"site:1,sex:1\" [--p 0.8] "
      "[--method range|variance]",
      "Randomize a trial by Pocock-Simon minimization (unblinded pharmacists and admins)",
      "Each subject goes, with probability --p (default 0.8; 1 is deterministic but for ties),\n"
      "to the arm that leaves the trial least imbalanced over the factors, counting every\n"
      "subject randomized before (withdrawn and completed ones too), in the ratio of the arms.\n"
      "--strata gives the factors and their levels, --factors the weights of those used\n"
      "(above 0, at most 100); --method how a factor's imbalance is measured (range, the\n"
      "default, or variance).  Each randomization draws a random number and records it, so\n"
      "the audit log replays every assignment.  Numbers are 1, 2, 3...  Replaces a scheme\n"
      "nobody was randomized by; refused once anybody was.  The weights, method and p, the\n"
      "draws and the arms are never shown to blinded users.",
      random_minimization_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_random_minimization },
    { "random show", "TRIAL [--json]", "Show a trial's randomization scheme and list",
      "The scheme (method, source, strata, rows, allocations) for every user; the seed, the\n"
      "block sizes, minimization's weights, method and p, and the list itself (stratum,\n"
      "position, number, block, arm, subject) only for unblinded users.",
      json_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_random_show },
    { "subject add", "TRIAL SCREENING [--strata sex=M,age=ge65]",
      "Enrol a subject under a screening number (investigators and pharmacists)",
      "--strata gives the subject's stratification values; those not known yet can be set\n"
      "later with 'ctm subject strata'.  A subject is randomized only once every factor is\n"
      "known.",
      subject_add_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_add },
    { "subject strata", "TRIAL SCREENING VALUES",
      "Set stratification values of a subject not yet randomized",
      "VALUES as sex=M,age=ge65: the factors named take these values, the others keep theirs.",
      no_opts, "TRIAL, SCREENING and VALUES", 3, 3, 0, ACCESS_LOGIN, cmd_subject_strata },
    { "subject list", "[TRIAL] [--json|--csv]", "List the subjects of one trial or all",
      "One row per subject: trial, screening, status, strata, rand_number, arm (blinded users\n"
      "see \"(blinded)\" in a blinded trial), enrolled, randomized, ended.",
      listing_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_subject_list },
    { "subject show", "TRIAL SCREENING [--json]", "Show one subject", NULL,
      json_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_show },
    { "subject withdraw", "TRIAL SCREENING --reason TEXT",
      "Withdraw a subject (before or after randomization)", NULL,
      reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_withdraw },
    { "subject complete", "TRIAL SCREENING [--reason TEXT]",
      "Record that a randomized subject completed the trial", NULL,
      optional_reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_complete },
    { "randomize", "TRIAL SCREENING [--json]",
      "Randomize an enrolled subject (investigators and pharmacists)",
      "Gives the subject the next number of its stratum's list, or under minimization the\n"
      "arm the minimizer chooses and the trial's next number, and prints it with the arm;\n"
      "blinded users see \"(blinded)\" in place of the arm of a blinded trial.  Refused until\n"
      "every stratification factor is known, and for a subject randomized before.",
      json_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_randomize },
    { "visit add",
      "TRIAL VISIT --day N --window -A..+B --kits KITTYPE:N[,KITTYPE:N] [--from previous]",
      "Add a visit at the end of a trial's schedule (pharmacists and administrators)",
      "The visit falls --day days after the subject's randomization, or with --from previous\n"
      "after the previous visit (the day that one was dispensed, else its due day).  --window\n"
      "gives the days it may come before and after that day: -3..+3 (also -3..3, 0..+7).\n"
      "--kits says how many kits of which kit types it dispenses (1 to 100 each); DOSE:N\n"
      "dispenses N kits of the kit type of the subject's dose level (see 'ctm dose levels').",
      visit_add_opts, "TRIAL and VISIT", 2, 2, 0, ACCESS_LOGIN, cmd_visit_add },
    { "visit list", "TRIAL [--json|--csv]", "List a trial's visit schedule",
      "One row per visit in order: position, code, day, anchor (randomization, previous),\n"
      "window_before, window_after (days), kits (KT10:1,KT20:2 or DOSE:1).",
      listing_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_visit_list },
    { "dose levels",
      "TRIAL --levels KT5,KT10,KT20 --start N --min-interval DAYS --max-titrations N",
      "Set a trial's dose levels and titration rules (pharmacists and administrators)",
      "--levels names kit types of the trial from the lowest dose up (level 1 is the first).\n"
      "Subjects start at level --start; their level moves one step at a dispensation, never at\n"
      "the first, at least --min-interval days after the last move (or the randomization), at\n"
      "most --max-titrations times.  Given again, it replaces the levels and rules, until the\n"
      "first kit of the trial is assigned to a subject.",
      dose_levels_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_dose_levels },
    { "subject hold", "TRIAL SCREENING --reason TEXT",
      "Pause a randomized subject's dispensing (a dose hold; investigators and pharmacists)",
      NULL, reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_hold },
    { "subject resume", "TRIAL SCREENING --reason TEXT",
      "Resume the dispensing of a subject on hold (investigators and pharmacists)",
      NULL, reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_resume },
    { "subject visits", "TRIAL SCREENING [--json|--csv]",
      "Show a subject's visits with their dates, dose hold and dose level",
      "One row per visit of the schedule: visit, due (the target date), window_from,\n"
      "window_to, dispensed (the date, or empty), on_hold (1 while on hold), dose_level.\n"
      "Dates are empty until the subject is randomized.",
      listing_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_subject_visits },
    { "dispense assign", "TRIAL SCREENING --visit VISIT [--titrate up|down|keep] [--override REASON]",
      "Choose the kits of a subject's visit, at random among the eligible ones (pharmacists)",
      "Prints the kits assigned: fetch them and scan each with 'ctm dispense confirm'.  A kit is\n"
      "eligible when it is of the visit's kit type and the subject's arm, on site, available,\n"
      "assigned to nobody and good beyond the do-not-dispense days and the next visit's window.\n"
      "The choice is random, so that it tells nothing of the arm.  Refused outside the visit's\n"
      "window unless an unblinded pharmacist gives --override with the reason, for a subject on\n"
      "dose hold, and when no kit is eligible (the message says why, never the arm).  --titrate\n"
      "moves the subject's dose level in a trial with dose levels (never at the first visit).",
      dispense_assign_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_dispense_assign },
    { "dispense confirm", "TRIAL SCREENING --scan CODE [CODE...]",
      "Scan-to-verify the kits handed over, e-signed (pharmacists)",
      "Each CODE is a kit number or the barcode of the pack (<GS> for the separator).  Every kit\n"
      "scanned must be one assigned to the subject, else nothing is recorded.  The dispensing\n"
      "carries your e-signature (\"dispensed\").",
      dispense_confirm_opts, "TRIAL and SCREENING", 2, CLI_MAX_POS, 0, ACCESS_LOGIN,
      cmd_dispense_confirm },
    { "dispense cancel", "TRIAL SCREENING --reason TEXT",
      "Free the kits assigned to a subject and not handed over (pharmacists)", NULL,
      reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_dispense_cancel },
    { "dispense replace", "TRIAL SCREENING KIT --reason TEXT [--lost]",
      "Replace a damaged (or, with --lost, lost) kit of a subject (pharmacists)",
      "A kit assigned and not handed over becomes damaged (missing with --lost); a kit dispensed\n"
      "becomes returned (lost_by_subject with --lost).  A new kit is assigned for the same visit\n"
      "by the same rules; confirm it with 'ctm dispense confirm'.",
      dispense_replace_opts, "TRIAL, SCREENING and KIT", 3, 3, 0, ACCESS_LOGIN,
      cmd_dispense_replace },
    { "dispense reverse", "TRIAL SCREENING KIT --reason TEXT",
      "Reverse a dispensing made in error, e-signed (pharmacists)",
      "The kit becomes not_dispensed and is never dispensed again.",
      reason_opts, "TRIAL, SCREENING and KIT", 3, 3, 0, ACCESS_LOGIN, cmd_dispense_reverse },
    { "dispense record",
      "TRIAL SCREENING --visit VISIT --at WHEN --reason TEXT --scan CODE [CODE...]",
      "Record a dispensing made on paper while the system was down, e-signed (pharmacists)",
      "WHEN is when it happened (ISO 8601 UTC, such as 2026-12-01T09:30Z); the time it is\n"
      "recorded is kept too.  The kits must have been eligible for the subject's visit, and\n"
      "received before WHEN (a shipment registered after it arrived: 'ctm receive --date\n"
      "WHEN' dates its kits' receipt when it arrived).",
      dispense_record_opts, "TRIAL and SCREENING", 2, CLI_MAX_POS, 0, ACCESS_LOGIN,
      cmd_dispense_record },
    { "dispensations", "TRIAL [--subject SCREENING] [--json|--csv]",
      "List the dispensations of a trial or of one subject",
      "One row per kit assigned: subject, visit, kit_number, kit_type, lot, status (assigned,\n"
      "dispensed, cancelled, replaced, reversed), dose_level, assigned, dispensed (when it\n"
      "happened), recorded, replaces (the kit it replaced), reason.",
      dispensations_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_dispensations },
    { "codebreak", "TRIAL SCREENING --reason TEXT",
      "Emergency unblinding of one subject (investigators, unblinded pharmacists)",
      "Asks for your password again, then shows the subject's arm.  The code break is recorded\n"
      "with your e-signature (\"emergency unblinding\") and the reason; the record does not show\n"
      "the arm to blinded readers of the audit trail.",
      reason_opts, "TRIAL and SCREENING", 2, 2, 0, ACCESS_LOGIN, cmd_codebreak },
    { "temp import", "LOCATION FILE [--format csv|logtag|berlinger] [--tz ZONE] "
      "[--date-order YMD|DMY|MDY] [--unit C|F] [--json]",
      "Import a temperature logger file for a storage location (pharmacists, technicians)",
      "FILE is the logger's export: a CSV of timestamp,temperature (ISO 8601 times; a decimal\n"
      "point or comma; comma, semicolon or tab between fields), a LogTag Analyzer CSV export or\n"
      "a Berlinger text report.  --format says which (default: told from the file's first\n"
      "line).  --tz names the zone of times written without one (Europe/Stockholm, +01:00,\n"
      "UTC; default: the zone the file states); --date-order reads dates like 03/04/2024;\n"
      "--unit says the file's temperatures are in C or F when the file does not.  The file is\n"
      "checked whole before anything is stored, then stored in one transaction: a bad line\n"
      "stores nothing and names the line.  The same file again changes nothing; a file that\n"
      "overlaps one imported before adds only the readings not stored yet.  On a terminal a\n"
      "progress bar shows on stderr.  --json prints the result as one JSON object.",
      temp_import_opts, "LOCATION and FILE", 2, 2, 0, ACCESS_LOGIN, cmd_temp_import },
    { "temp list", "LOCATION [--from WHEN] [--to WHEN] [--json|--csv]",
      "List a storage location's temperature readings",
      "One row per reading, oldest first: time (UTC), temp (degrees Celsius), serial (the\n"
      "logger's), file (the logger file's number in 'ctm temp files').  --from and --to bound\n"
      "the period, both included; WHEN is UTC, ISO 8601: 2026-11-23 (the whole day),\n"
      "2026-11-23T14:30, or with Z or an offset.",
      temp_list_opts, "LOCATION", 1, 1, 0, ACCESS_LOGIN, cmd_temp_list },
    { "temp mkt", "LOCATION [--from WHEN] [--to WHEN] [--energy KJ_PER_MOL] [--max-gap MINUTES] [--json]",
      "Print the mean kinetic temperature of a storage location over a period",
      "Each reading weighs the time it holds, until the next reading and at most --max-gap\n"
      "minutes (default 60): a longer gap is reported, never taken as the reading before it.\n"
      "--energy is the activation energy in kJ/mol (default 83.144, dH/R = 10,000 K); a\n"
      "device's own figure (a Q-tag's \"MKT Energy\") gives the device's MKT.  --from and --to\n"
      "as for 'ctm temp list'.",
      temp_mkt_opts, "LOCATION", 1, 1, 0, ACCESS_LOGIN, cmd_temp_mkt },
    { "temp files", "[LOCATION] [--json|--csv]",
      "List the temperature logger files imported, newest first",
      "file, location, name, sha256 (of the file's bytes), format, serial, model, interval_s,\n"
      "unit, zone, readings, days, first, last, imported, imported_by.",
      listing_opts, "LOCATION", 0, 1, 0, ACCESS_LOGIN, cmd_temp_files },
    { "return", "TRIAL KIT --units N [--condition TEXT] [--date YYYY-MM-DD]",
      "Record a kit a subject brought back, with the units left in it",
      "KIT must be dispensed to a subject; it becomes returned and never goes back to stock\n"
      "(pending destruction or the return to the sponsor come next).  --units: the units\n"
      "counted in it, 0 up to the kit's units.  --condition: as found (e.g. \"opened, 2 blisters\n"
      "empty\").  --date: the day the subject brought it (default today; not before the day it\n"
      "was dispensed).  Pharmacists and technicians.  'ctm compliance' shows what the returns\n"
      "say about each subject's intake.",
      return_opts, "TRIAL and KIT", 2, 2, 0, ACCESS_LOGIN, cmd_return },
    { "lost", "TRIAL KIT --reason TEXT [--date YYYY-MM-DD]",
      "Record that a subject lost a dispensed kit",
      "The kit becomes lost_by_subject and its units count as lost.  --date: the day the loss\n"
      "was reported (default today).  To give the subject another kit for the visit, use\n"
      "'ctm dispense replace ... --how lost' instead: it records the loss too.  Pharmacists and\n"
      "technicians.",
      lost_opts, "TRIAL and KIT", 2, 2, 0, ACCESS_LOGIN, cmd_lost },
    { "compliance", "TRIAL [--subject SCREENING] [--json|--csv]",
      "Compliance per subject and visit, from the kits returned",
      "One row per subject, visit and kit type: the day dispensed, kits and units dispensed,\n"
      "kits and units returned, kits lost, kits not back yet, the day the last came back, the\n"
      "days of the period, units prescribed for it (days x kits x units per kit / the kit\n"
      "type's dispensing days), units consumed (dispensed - returned), compliance in percent\n"
      "and a flag: ok, low or high against the trial's limits (default 80-110 %, see 'ctm\n"
      "compliance limits'), or why there is no figure (not returned, lost, not counted, no\n"
      "period).  Figures outside the limits are flagged, never hidden.",
      compliance_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_compliance },
    { "compliance limits", "TRIAL --low PERCENT --high PERCENT",
      "Set the compliance limits of a trial",
      "Compliance below --low or above --high percent is flagged (0 <= low <= high <= 1000).\n"
      "Administrators and pharmacists.",
      compliance_limits_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_compliance_limits },
    { "destroy", "TRIAL --method TEXT --certificate REF --witness USER KIT...",
      "Destroy kits pending destruction, with a witness (pharmacists)",
      "Each KIT (a number or a scan) must be pending destruction: send returned, expired or\n"
      "damaged kits there first with 'ctm kit status TRIAL KIT pending_destruction --reason ...'.\n"
      "They become destroyed and leave their location, with the method (e.g. incineration)\n"
      "and the destruction certificate's reference.  The witness, a second user (pharmacist,\n"
      "technician or monitor; not you), signs too: their password comes from\n"
      "$CTM_WITNESS_PASSWORD or is asked without echo.  A wrong one is counted as a failed\n"
      "login of the witness's account and nothing is destroyed.  All kits or none.",
      destroy_opts, "TRIAL and KIT", 2, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_destroy },
    { "destructions", "[TRIAL] [--json|--csv]", "List the kits destroyed",
      "One row per kit, in the order destroyed: trial, kit number, kit type, lot, expiry,\n"
      "method, certificate, when (UTC), by whom and the witness.",
      listing_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_destructions },
    { "shipback", "TRIAL --shipment NUMBER [--destination TEXT] KIT...",
      "Pack kits to go back to the sponsor (pharmacists)",
      "Each KIT must be returned, expired, damaged or pending destruction, and in no other\n"
      "shipback.  Packed kits keep their status and place until 'ctm shipback dispatch', and\n"
      "cannot be destroyed meanwhile.  --destination defaults to the trial's sponsor.  'ctm\n"
      "shipback manifest' prints the manifest; 'ctm shipback cancel' unpacks.",
      shipback_opts, "TRIAL and KIT", 2, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_shipback },
    { "shipback manifest", "TRIAL NUMBER [--output FILE]", "Print a shipback's manifest as CSV",
      "One row per kit: shipment, kit_number, kit_type, lot, expiry, status (as packed),\n"
      "units_left (counted when a subject brought it back; else the kit's units).  No arm.",
      shipback_manifest_opts, "TRIAL and NUMBER", 2, 2, 0, ACCESS_LOGIN, cmd_shipback_manifest },
    { "shipback dispatch", "TRIAL NUMBER --reference REF",
      "Confirm a shipback's dispatch to the sponsor (pharmacists, e-signed)",
      "--reference: the carrier's (e.g. an air waybill).  The kits become\n"
      "returned_to_sponsor and leave their location.",
      shipback_dispatch_opts, "TRIAL and NUMBER", 2, 2, 0, ACCESS_LOGIN, cmd_shipback_dispatch },
    { "shipback cancel", "TRIAL NUMBER --reason TEXT",
      "Cancel a shipback not yet dispatched (pharmacists)",
      "Its kits are unpacked as they were and its number is free again.",
      reason_opts, "TRIAL and NUMBER", 2, 2, 0, ACCESS_LOGIN, cmd_shipback_cancel },
    { "shipbacks", "[TRIAL] [--json|--csv]", "List the shipbacks to the sponsor",
      "trial, shipment, destination, status (packed, dispatched), kits, packed (UTC),\n"
      "packed_by, dispatched, dispatched_by, reference.",
      listing_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_shipbacks },
    { "forecast", "TRIAL [--days N] [--json|--csv]",
      "Forecast the kits the visits falling due need, per kit type, against stock",
      "Over the next N days (default 28): the visits of randomized subjects (on hold or not)\n"
      "that fall due, not yet dispensed nor assigned, with their window still open.  One row\n"
      "per kit type: through (the last day), visits_due, kits_needed, kits_available (now),\n"
      "kits_dispensable (still dispensable on the last day), kits_quarantined, shortfall (kits\n"
      "the stock cannot give: a kit must last the do-not-dispense days past the visit and to\n"
      "the end of the next visit's window) and first_shortfall (the day of the first visit\n"
      "left short).  These rows pool the arms.  In an open trial, and for unblinded users,\n"
      "each is followed by one row per arm with that arm's own figures (a kit goes only to a\n"
      "subject of its arm: the per-arm shortfalls add up to the real one).",
      forecast_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_forecast },
    { "self-inspection", "[TRIAL] [--stale-days N] [--json|--csv]",
      "List the findings of a self-inspection",
      "One row per finding: category, trial, reference, subject, detail, since.  Categories:\n"
      "discrepancy (at receipt), overdue_return (a kit with its subject past the end of the\n"
      "next visit's window), expired_on_hand (received, available or quarantined stock past\n"
      "its expiry), open_excursion (awaiting the sponsor's decision), missing_signature (a\n"
      "ledger entry without the e-signature its action requires) and stale_access (an enabled\n"
      "account with no action in the ledger for N days, default 90, or none at all; logins\n"
      "are not recorded).  TRIAL: only that trial's stock findings (the site's signatures and\n"
      "accounts are always listed).  An empty listing is a clean inspection.",
      self_inspection_opts, "TRIAL", 0, 1, 0, ACCESS_LOGIN, cmd_self_inspection },
    { "excursions", "[LOCATION] [--open] [--json|--csv]",
      "List temperature excursions, newest first",
      "Every import of a logger file records the excursions its readings show (see 'ctm help\n"
      "location alarm'), with the kits that were there: those available go to quarantine.  One\n"
      "row per excursion: its number, the place (a location, or \"shipment NO\" for a logger\n"
      "that travelled with a shipment), kind (high, low, mixed, unknown: a gap in the\n"
      "readings; \"(daily)\" for a daily summary's minutes), start and end (UTC; \"ongoing\"\n"
      "while still out of range at the newest reading), minutes, min and max (degrees\n"
      "Celsius), status (open, released, rejected, decided: kit by kit), kits recorded with it\n"
      "and how many of them it quarantined.  LOCATION: only that location's.  --open: only\n"
      "those no decision closed.  --json and --csv give every column of the listing: daily,\n"
      "ongoing, degree_minutes, min_time, max_time, readings, range_min, range_max,\n"
      "delay_minutes, detected, detected_by, decided, decided_by, reference too.",
      excursions_opts, "LOCATION", 0, 1, 0, ACCESS_LOGIN, cmd_excursions },
    { "excursion show", "ID [--json]", "Show an excursion and its kits",
      "The excursion's row as in 'ctm excursions --json', one line per column, then its kits:\n"
      "trial, kit_number, kit_type, lot, status_was (when it was recorded), quarantined (1: by\n"
      "it), status (now), decision, decided, decided_by, reference, minutes_out (the kit's time\n"
      "out of range over its life) and over_budget (1: flagged for rejection).  --json prints\n"
      "{\"excursion\": {...}, \"kits\": [...]}.",
      json_opts, "ID", 1, 1, 1, ACCESS_LOGIN, cmd_excursion_show },
    { "excursion decide", "ID --release|--reject --reference TEXT [--kit KIT [KIT...]]",
      "Record the sponsor's decision on an excursion, e-signed (pharmacists)",
      "--release: the kits it put in quarantine go back to available, unless another\n"
      "excursion holds them (not decided yet, or rejected).  --reject: they go to\n"
      "pending_destruction.  --reference records the sponsor's reference (1 to 200\n"
      "characters).  Without --kit the decision covers the excursion and every kit of it not\n"
      "decided yet; with --kit only the kits named (numbers or scans of their packs), and the\n"
      "excursion is decided once each of its kits is.  A kit that left quarantine meanwhile\n"
      "keeps its status, with the decision recorded.  Refused while the excursion is ongoing:\n"
      "import the file that shows its end first.  The decision carries your e-signature\n"
      "(\"excursion released\" or \"excursion rejected\").",
      excursion_decide_opts, "ID", 1, CLI_MAX_POS, 0, ACCESS_LOGIN, cmd_excursion_decide },
    { "excursion report", "ID [--format text|csv|json] [--output FILE]",
      "Print an excursion's report for the sponsor",
      "text (the default) is a page to print or mail; csv has one row per kit with the\n"
      "excursion's figures repeated; json is one object.  The report names the location or\n"
      "shipment, its range and alarm delay, the logger files and serials, the period, min and\n"
      "max with their times, the duration, degree-minutes and MKT, the kits and lots with\n"
      "their status, exposure and budget, and the decisions with their signatures.  --output\n"
      "writes it to FILE (replaced if it exists) instead of standard output.",
      excursion_report_opts, "ID", 1, 1, 1, ACCESS_LOGIN, cmd_excursion_report },
    { "reconcile", "TRIAL [--as-of DAY] [--json|--csv]",
      "Reconcile a trial's kits per kit type and lot, and name the kits that break it",
      "One row per kit type and lot, then the total (kit type and lot empty): received (every\n"
      "kit registered), the kits in each status (receiving, available, quarantined, dispensed,\n"
      "returned, pending_destruction, destroyed, returned_to_sponsor, damaged, missing, lost,\n"
      "expired, not_dispensed, in_transit, unknown), the units handed to subjects and what\n"
      "became of them (dispensed_units = with_subjects_units + returned_units +\n"
      "consumed_units + lost_units + uncounted_units), breaks and balanced.  A kit whose\n"
      "records disagree with its status (its history, dispensation, return, destruction or\n"
      "shipback) breaks it: the kits are listed under the table with the problem.  --as-of\n"
      "DAY (YYYY-MM-DD): at the end of that day (UTC), from the kits' history.  --json prints\n"
      "{\"trial\", \"as_of\", \"balanced\": true|false, \"rows\": [...], \"breaks\": [...]};\n"
      "--csv the rows.  Exit status 1 when it does not balance (after printing it).",
      reconcile_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_reconcile },
    { "darf", "TRIAL [--kit-type CODE] [--json|--csv]",
      "Print the drug accountability record (DARF) per product",
      "Per kit type, in time order: date, kit_type, product, dose, lot, kit, subject,\n"
      "rand_number, dose_level, event, quantity (+1 received, -1 dispensed or gone from the\n"
      "stock, 0 a return noted: returns are never added back), quantity_units, the running\n"
      "balance in kits and units, returned_units and the recorder.  --kit-type: one product.",
      darf_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_darf },
    { "signoff", "TRIAL --reconciliation [--as-of DAY] [--comment TEXT]",
      "Sign off a trial's reconciliation, e-signed (monitors)",
      "Draws the reconciliation (now, or as of DAY) and records that you reviewed it: the\n"
      "day, whether it balanced, the size of the audit ledger it was drawn from and your\n"
      "comment (1 to 500 characters).  One that does not balance can be signed: the record\n"
      "says so.  The sign-off carries your e-signature (\"reconciliation reviewed\").",
      signoff_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_signoff },
    { "signoffs", "TRIAL [--json|--csv]", "List a trial's sign-offs, oldest first",
      "signoff, kind, as_of, balanced, ledger_size, signed, signed_by, printed_name, comment.",
      listing_opts, "TRIAL", 1, 1, 0, ACCESS_LOGIN, cmd_signoffs },
    { "report",
      "NAME [TRIAL] [--json|--csv|--html] [--as-of DATE | --from DATE --to DATE] [--days N] "
      "[--kit-type CODE] [--output FILE]",
      "Print a report (inventory, audit, subjects, reconciliation, darf, forecast, self-inspection)",
      "NAME is one of:\n"
      "  inventory   kits on hand (received, available, quarantined, damaged, expired,\n"
      "              returned, pending destruction): kit, type, lot, expiry, status, location,\n"
      "              units, days to expiry, expiring soon (within --days N, default 30),\n"
      "              expired, arm ((blinded) unless you may see it).  --kit-type CODE narrows.\n"
      "  audit       the audit trail for people: seq, time (UTC), user, printed name, action,\n"
      "              reason, what changed in words, e-signature (printed name, time, meaning).\n"
      "              --as-of DATE: up to the end of that day; --from/--to DATE: a period.\n"
      "  subjects    accountability and compliance per subject, visit and kit type (as 'ctm\n"
      "              compliance'), with counts of visits below and above the trial's limits\n"
      "              and with no figure yet; TRIAL required.\n"
      "  reconciliation  per kit type and lot: received, the kits per status, units, breaks,\n"
      "              balanced (as 'ctm reconcile'; the summary says balanced true|false).\n"
      "              TRIAL needed; --as-of DATE: at the end of that day.\n"
      "  darf        the drug accountability record per product (as 'ctm darf').  TRIAL\n"
      "              needed; --kit-type CODE narrows.\n"
      "  forecast    kits needed over the next --days N (default 28) against the stock still\n"
      "              dispensable then (as 'ctm forecast'); TRIAL needed.\n"
      "  self-inspection  the findings of a self-inspection (as 'ctm self-inspection');\n"
      "              --days N: accounts idle that long are stale (default 90).\n"
      "TRIAL names one trial (omitted: every trial).  Text (the default) has a header naming\n"
      "the site, trial, period, when it was generated and the signed ledger checkpoint (size and\n"
      "root hash) the rows were read under; --csv is one line per row, --json one object with\n"
      "that header, --html one self-contained page to print whose every page repeats the\n"
      "header.  Dates are UTC, YYYY-MM-DD.  --output writes FILE (replaced if it exists).",
      report_opts, "NAME", 1, 2, 0, ACCESS_LOGIN, cmd_report },
    { "export", "fhir|sdtm-da TRIAL [--from DATE] [--to DATE] [--output FILE]",
      "Export a trial's receipts, dispensings and returns (FHIR R4 or SDTM DA)",
      "fhir is a FHIR R4 Bundle (JSON) for hospital systems: a SupplyDelivery per receipt, kit\n"
      "type and lot, a MedicationDispense per kit handed over.  sdtm-da is a CSV in the layout\n"
      "of the SDTM DA domain for the sponsor: a DISPAMT row per kit handed over, a RETAMT row per\n"
      "kit returned or lost.  --from and --to (YYYY-MM-DD, inclusive, UTC) keep what happened in\n"
      "that period.  No export holds an arm, whoever asks.  --output writes it to FILE (replaced\n"
      "if it exists) instead of standard output.",
      export_opts, "FORMAT TRIAL", 2, 2, 0, ACCESS_LOGIN, cmd_export },
    { "audit log",
      "[--by USER] [--action NAME] [--since WHEN] [--until WHEN] [--trial T] [--kit KIT] "
      "[--last N | --from SEQ --limit N] [--json|--csv]",
      "Show the audit trail, or the entries that match filters",
      "One block per entry, oldest first.  Filters combine: an entry must pass every one given.\n"
      "  --by USER      entries by that user (--user is who YOU are, as in every command)\n"
      "  --action NAME  that action (kit.status), or a family with .* (shipment.*)\n"
      "  --since WHEN   at or after WHEN; --until WHEN: up to and including WHEN.  WHEN is UTC,\n"
      "                 ISO 8601: 2026-11-23 (the whole day), 2026-11-23T14:30 (the whole\n"
      "                 minute), 2026-11-23T14:30:05Z, or with +00:00 or another offset\n"
      "  --trial T      entries about trial T: its kit types, lots, shipments and kits\n"
      "  --kit KIT      entries about kit number KIT (with --trial, that trial's kit)\n"
      "  --last N       the newest N matching entries, still shown oldest first\n"
      "  --from SEQ     from entry SEQ on; --limit N: at most N entries\n"
      "Changes of up to 5 rows are shown one row per line; more as counts per table (kits:\n"
      "10,000 inserted).  --json and --csv give every change in full (the changes column) and\n"
      "the summary (changes_summary).  A blinded user's filters never match on an arm.",
      audit_log_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_audit_log },
    { "audit note", "TEXT [--sign MEANING]", "Record a note in the audit trail",
      "With --sign the note carries your e-signature with that meaning\n"
      "(for example \"reviewed and approved\").",
      audit_note_opts, "TEXT", 1, 1, 0, ACCESS_LOGIN, cmd_audit_note },
    { "audit verify", "[--checkpoint FILE] [--key VKEY|--key-file FILE]",
      "Verify the ledger, its signatures and every table (no login)",
      "Recomputes every entry, tree root, checkpoint signature and e-signature and replays the\n"
      "ledger against the live tables.  --key (or --key-file) gives the site's verifier key\n"
      "held outside the database; without it the key stored in the database is trusted.\n"
      "--checkpoint gives a checkpoint saved earlier (`ctm audit checkpoint`): the ledger must\n"
      "have only grown since.  Exits 1 and names the first failing entry on any mismatch.",
      audit_verify_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_verify },
    { "audit checkpoint", "", "Print the latest signed checkpoint, for a monitor to keep (no login)",
      NULL, no_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_checkpoint },
    { "audit pubkey", "", "Print the site's verifier key (no login)", NULL,
      no_opts, NULL, 0, 0, 0, ACCESS_READ, cmd_audit_pubkey },
    { "audit prove", "SEQ", "Print an inclusion proof of entry SEQ (login only when a user is given)",
      "Needs no login, except on a site migrated from an older libctm, whose first entries\n"
      "carry no salt: there only an unblinded user gets proofs, so give --user (or $CTM_USER).",
      no_opts, "SEQ", 1, 1, 1, ACCESS_READ_AS, cmd_audit_prove },
    { "audit witness", "--key-file KEY --state DIR [--site-vkey VKEY]",
      "Witness the site's newest checkpoint and cosign it (monitors)",
      "Checks that the site's newest checkpoint is signed by the site and extends the one you\n"
      "witnessed last (kept in DIR, one file per site: DIR/<origin>.checkpoint), hashing every\n"
      "entry; then cosigns it with your witness key (--key-file, made by `ctm audit\n"
      "witness-key`), stores the cosignature at the site (audited \"audit.cosign\") and keeps\n"
      "the cosigned checkpoint in DIR for next time.  A site smaller than what you witnessed\n"
      "(rolled back, truncated) or with other entries up to it (rewritten) is refused: exit 1,\n"
      "nothing stored, DIR unchanged.  --site-vkey gives the site's verifier key held outside;\n"
      "without it the key in the database is trusted (a changed key is still refused once DIR\n"
      "holds a checkpoint).  Keep DIR and the key away from the site.",
      audit_witness_opts, NULL, 0, 0, 0, ACCESS_LOGIN, cmd_audit_witness },
    { "audit witness-key", "--name NAME --out FILE",
      "Make a witness key for a monitor and print its verifier key (no database)",
      "Writes a new Ed25519 key named NAME (e.g. monitor.example.org/anna: no spaces or '+')\n"
      "to FILE (mode 0600; an existing file is never replaced) and prints its verifier key,\n"
      "which any signed-note verifier uses to check your cosignatures.",
      audit_witness_key_opts, NULL, 0, 0, 0, ACCESS_NONE, cmd_audit_witness_key },
    { "scan", "STRING [--json]", "Read and check a GS1 barcode (no database)",
      "STRING is what the scanner sends from a pack's DataMatrix (]d20105909990329717...)\n"
      "or the bracketed form printed under it ((01)05909990329717(10)NE76571(17)270430).\n"
      "The GS separator a scanner sends between fields may be typed <GS> or \\x1d.  Prints\n"
      "each AI with its name and value, and the expiry (day 00 is the last day of the\n"
      "month); --json prints {\"ai\":{...},\"gtin\":..,\"lot\":..,\"serial\":..,\"expiry\":..}.\n"
      "A bad check digit, date, length or character, an unknown or repeated AI, or a missing\n"
      "companion AI exits 1 with the reason.",
      scan_opts, "STRING", 1, 1, 0, ACCESS_NONE, cmd_scan },
    { "version", "", "Print the versions of ctm and libctm", NULL,
      no_opts, NULL, 0, 0, 0, ACCESS_NONE, cmd_version },
    { "help", "[COMMAND]", "Show help for all commands or one", NULL,
      no_opts, "COMMAND", 0, 2, 0, ACCESS_NONE, cmd_help },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* ---- messages ---- */

static void put_one_line(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
}

int cli_usage(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("ctm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "; usage: ctm %s%s%s (see 'ctm help %s')\n", cmd->name,
                cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->name);
    else
        fputs("; usage: " GLOBAL_SYNOPSIS " (see 'ctm help')\n", stderr);
    return CLI_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("ctm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

/* The library's own message for a failure: it names the field, line or value at fault. */
int cli_fail_ctm(int rc)
{
    const char *msg = ctm_errmsg();
    fputs("ctm: ", stderr);
    put_one_line(stderr, msg && msg[0] ? msg : ctm_errstr(rc));
    fputc('\n', stderr);
    return CLI_FAIL;
}

/* ---- finding commands ---- */

static size_t word_len(const char *name)
{
    const char *space = strchr(name, ' ');
    return space ? (size_t)(space - name) : strlen(name);
}

/* Whether word names a group of commands ("user", "audit"). */
static int is_group(const char *word)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i].name;
        size_t n = word_len(name);
        if (name[n] == ' ' && strlen(word) == n && strncmp(name, word, n) == 0)
            return 1;
    }
    return 0;
}

/* The command named by the first one or two words; *words says how many it took. */
static const struct cli_command *find_command(int argc, char **argv, int *words)
{
    char name[64];
    /* two-word commands ("receive scan") first, wherever they stand in the table */
    if (argc >= 2) {
        snprintf(name, sizeof name, "%s %s", argv[0], argv[1]);
        for (size_t i = 0; i < N_COMMANDS; i++)
            if (strcmp(commands[i].name, name) == 0) {
                *words = 2;
                return &commands[i];
            }
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, argv[0]) == 0) {
            *words = 1;
            return &commands[i];
        }
    return NULL;
}

/* ---- help ---- */

static void print_command_line(FILE *out, const struct cli_command *cmd)
{
    fprintf(out, "  %-22s %s\n", cmd->name, cmd->summary);
}

static void print_overview(FILE *out)
{
    fputs("usage: " GLOBAL_SYNOPSIS "\n\n"
          "Keep a clinical-trial pharmacy's records and check their signed audit ledger.\n\n"
          "Global options (also after the command):\n"
          "  --db PATH          the database: a file, or postgresql://... for a site on a\n"
          "                     PostgreSQL server\n"
          "  --site-key FILE    the site's signing key file (default PATH.key; a site on a\n"
          "                     server has no default)\n"
          "  --user NAME        who you are: the user every command logs in as, never a filter\n"
          "                     (the audit log filters by user with --by NAME)\n\n"
          "Commands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        print_command_line(out, &commands[i]);
    fputs("\nEnvironment:\n"
          "  CTM_DB             the database, when --db is not given\n"
          "  CTM_USER           the acting user, when --user is not given\n"
          "  CTM_SITE_KEY       the site key file, when --site-key is not given\n"
          "  CTM_PASSWORD       the password of $CTM_USER (else asked on the terminal; never\n"
          "                     tried for another --user)\n"
          "  CTM_NEW_PASSWORD   a new password for init, user add and user passwd\n"
          "                     (else asked twice on the terminal)\n\n"
          "Run 'ctm help COMMAND' or 'ctm COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 failure, 2 wrong usage.\n", out);
}

static void print_group(FILE *out, const char *group)
{
    size_t n = strlen(group);
    fprintf(out, "usage: ctm %s COMMAND ...\n\nCommands:\n", group);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i].name;
        if (strncmp(name, group, n) == 0 && name[n] == ' ')
            fprintf(out, "  ctm %s %s\n      %s\n", name, commands[i].synopsis, commands[i].summary);
    }
}

static int print_command_help(const struct cli_command *cmd)
{
    printf("usage: ctm %s%s%s\n\n%s.\n", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis,
           cmd->summary);
    if (cmd->details)
        printf("\n%s\n", cmd->details);
    if (cmd->access != ACCESS_NONE)
        printf("\nAlso takes --db PATH and --user NAME, who you are: your login, never a filter\n"
               "(or $CTM_DB and $CTM_USER).\n");
    return CLI_OK;
}

static int cmd_help(struct cli_session *s, const struct cli_args *a)
{
    (void)s;
    int words = 0;
    if (a->npos == 0) {
        print_overview(stdout);
        return CLI_OK;
    }
    const struct cli_command *cmd = find_command(a->npos, (char **)a->pos, &words);
    if (cmd && words == a->npos)
        return print_command_help(cmd);
    if (a->npos == 1 && is_group(a->pos[0])) {
        print_group(stdout, a->pos[0]);
        return CLI_OK;
    }
    return cli_usage(a->cmd, "no command '%s%s%s'", a->pos[0], a->npos > 1 ? " " : "",
                     a->npos > 1 ? a->pos[1] : "");
}

/* ---- the steps every command shares ---- */

static int has_option(const struct cli_command *cmd, const char *name)
{
    for (int i = 0; cmd->opts[i].name; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return 1;
    return 0;
}

int cli_password_env(const struct cli_session *s, const struct cli_command *cmd,
                     const char **env)
{
    const char *env_user = getenv("CTM_USER");
    *env = "CTM_PASSWORD";
    if (!getenv("CTM_PASSWORD") || !env_user || !env_user[0] || strcmp(env_user, s->user) == 0)
        return CLI_OK;
    *env = NULL;
    int filter_hint = has_option(cmd, "by");
    if (!isatty(STDIN_FILENO))
        return cli_usage(cmd, "--user %s is not $CTM_USER (%s), and $CTM_PASSWORD is only %s's: "
                              "no login was tried%s%s", s->user, env_user, env_user,
                         filter_hint ? "; --user is who you are, --by " : "",
                         filter_hint ? "USER filters the log by user" : "");
    if (filter_hint)
        fprintf(stderr, "ctm: --user names who you are; --by %s lists %s's entries\n", s->user,
                s->user);
    return CLI_OK;
}

static int open_database(struct cli_session *s, const struct cli_command *cmd)
{
    ctm_open_options opts = CTM_OPEN_OPTIONS_INIT;
    if (!s->db_path || !s->db_path[0])
        return cli_usage(cmd, "no database: give --db PATH or set CTM_DB");
    if (cmd->access == ACCESS_CREATE)
        opts.flags = CTM_OPEN_CREATE;
    else if (cmd->access == ACCESS_READ || cmd->access == ACCESS_READ_AS)
        opts.flags = CTM_OPEN_READONLY;
    opts.key_path = s->site_key;
    int rc = ctm_open(&s->db, s->db_path, &opts);
    return rc == CTM_OK ? CLI_OK : cli_fail_ctm(rc);
}

static int run_command(struct cli_session *s, const struct cli_args *a)
{
    const struct cli_command *cmd = a->cmd;
    int rc = CLI_OK;
    if (cmd->access != ACCESS_NONE)
        rc = open_database(s, cmd);
    if (rc == CLI_OK && (cmd->access == ACCESS_LOGIN ||
                         (cmd->access == ACCESS_READ_AS && s->user != NULL && s->user[0])))
        rc = cli_login(s, a);
    if (rc == CLI_OK)
        rc = cmd->run(s, a);
    ctm_close(s->db);
    s->db = NULL;
    return rc;
}

/* A failed write to stdout (a full disk, a closed pipe) is a failure of the command. */
static int finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == CLI_OK)
            return cli_fail("cannot write the output: %s", strerror(errno));
    }
    return rc;
}

/* ---- global options ---- */

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Options before the command; *i ends on the command's first word.  -1: help was printed. */
static int parse_global(struct cli_session *s, int argc, char **argv, int *i)
{
    for (*i = 1; *i < argc && argv[*i][0] == '-'; ++*i) {
        const char *arg = argv[*i];
        const char **target = NULL;
        size_t n = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_overview(stdout);
            return -1;
        }
        if (strcmp(arg, "--version") == 0) {
            cmd_version(s, NULL);
            return -1;
        }
        if (strncmp(arg, "--db", 4) == 0 && (arg[4] == '\0' || arg[4] == '='))
            target = &s->db_path, n = 4;
        else if (strncmp(arg, "--user", 6) == 0 && (arg[6] == '\0' || arg[6] == '='))
            target = &s->user, n = 6;
        else if (strncmp(arg, "--site-key", 10) == 0 && (arg[10] == '\0' || arg[10] == '='))
            target = &s->site_key, n = 10;
        else
            return cli_usage(NULL, "unknown option %s", arg);
        if (arg[n] == '=')
            *target = arg + n + 1;
        else if (*i + 1 < argc)
            *target = argv[++*i];
        else
            return cli_usage(NULL, "option %s needs a value", arg);
    }
    return CLI_OK;
}

/* "ctm user", "ctm user --help", "ctm user frobnicate". */
static int group_without_command(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        print_group(stdout, argv[0]);
        return CLI_OK;
    }
    if (argc < 2)
        fprintf(stderr, "ctm: '%s' needs a command", argv[0]);
    else
        fprintf(stderr, "ctm: no command '%s %s'", argv[0], argv[1]);
    fprintf(stderr, "; usage: ctm %s COMMAND ... (see 'ctm help %s')\n", argv[0], argv[0]);
    return CLI_USAGE;
}

static int dispatch(struct cli_session *s, int argc, char **argv)
{
    struct cli_args a;
    int words = 0;
    if (argc < 1)
        return cli_usage(NULL, "no command given");
    const struct cli_command *cmd = find_command(argc, argv, &words);
    if (!cmd && is_group(argv[0]))
        return group_without_command(argc, argv);
    if (!cmd)
        return cli_usage(NULL, "no command '%s'", argv[0]);
    int rc = cli_parse_args(&a, s, cmd, argc - words, argv + words);
    if (rc != CLI_OK)
        return rc;
    if (a.help)
        return print_command_help(cmd);
    rc = cli_check_values(&a);
    if (rc != CLI_OK)
        return rc;
    return run_command(s, &a);
}

int main(int argc, char **argv)
{
    struct cli_session s = { env_or_null("CTM_DB"), env_or_null("CTM_USER"),
                             env_or_null("CTM_SITE_KEY"), NULL };
    int i;
    int rc = parse_global(&s, argc, argv, &i);
    if (rc < 0)
        return finish_output(CLI_OK);
    if (rc != CLI_OK)
        return rc;
    return finish_output(dispatch(&s, argc - i, argv + i));
}
