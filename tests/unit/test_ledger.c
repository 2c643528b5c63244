/* test_ledger.c - every kind of entry the library writes, driven through the real API, decodes
 * strictly and says what the action did; the write path refuses an action outside the registry
 * and a meaning the registry does not give; and the encoder refuses what the decoder would
 * refuse. */
#include "ctm.h"
#include "entry.h"
#include "internal.h" /* white-box: the write path's own calls */
#include "testutil.h"

#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN "ada"
#define ADMIN_PW "ada-password-1"
#define ADMIN_PW2 "ada-password-2"
#define PHARM "phil"
#define PHARM_PW "phil-password-1"
#define TECH "tom"
#define TECH_PW "tom-password-12"
#define TECH_PW2 "tom-password-34"

static char *tdir;
static char dbpath[4096];
static ctm_db *db_a, *db_b;

static void setup(void)
{
    tdir = tu_test_dir(NULL, NULL);
    snprintf(dbpath, sizeof dbpath, "%s/site.db", tdir);
    db_a = db_b = NULL;
}

static void teardown(void)
{
    tu_teardown(&tdir, &db_a, &db_b);
}

/* What one call must have written: its action, acting user, e-signature meaning (NULL: none)
 * and the tables its changes touch, in order of first appearance ("" for none). */
struct expect {
    const char *action, *user, *meaning, *tables;
};

static struct expect want[64];
static size_t nwant;

static void expect(const char *action, const char *user, const char *meaning, const char *tables)
{
    ck_assert_uint_lt(nwant, sizeof want / sizeof want[0]);
    want[nwant++] = (struct expect){action, user, meaning, tables};
}

/* "t1,t2" of the tables an entry's changes touch, in order of first appearance. */
static void tables_of(const ctm__entry *e, char *out, size_t len)
{
    out[0] = '\0';
    for (uint32_t i = 0; i < e->nchanges; i++) {
        char item[80];
        snprintf(item, sizeof item, ",%s,", e->changes[i].table);
        char padded[600];
        snprintf(padded, sizeof padded, ",%s,", out);
        if (strstr(padded, item) != NULL)
            continue;
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n > 0 ? "," : "", e->changes[i].table);
    }
}

/* Each stored entry: decoded strictly, version 2 with a salt of its own, the fields of the call
 * that wrote it, a valid e-signature over every byte before it, and the same bytes again when the
 * decoded entry is encoded (the list encoder and the capture path are one encoder). */
static void check_entries(const char *path, uint64_t first)
{
    ctm__store *s = tu_store(path, 0);
    ctm__st *st = NULL;
    uint8_t salts[64][CTM_ENTRY_SALT_LEN];
    size_t k = 0;
    ck_assert_int_eq(ctm__st_prepare(s, &st, "SELECT seq, entry FROM ledger WHERE seq >= ?1 ORDER BY seq"),
                     CTM_OK);
    ctm__st_bind_int(st, 1, (int64_t)first);
    while (ctm__st_step(st) == CTM_ROW) {
        const uint8_t *p = ctm__st_blob(st, 1);
        size_t n = ctm__st_bytes(st, 1);
        ctm__entry e;
        char why[160] = "", tables[512];
        ck_assert_uint_lt(k, nwant);
        const struct expect *x = &want[k];
        ck_assert_msg(ctm__entry_decode(&e, p, n, why, sizeof why) == 0, "%s: %s", x->action, why);
        ck_assert_uint_eq(e.version, CTM_ENTRY_VERSION);
        ck_assert_uint_eq(e.seq, (uint64_t)ctm__st_int(st, 0));
        ck_assert_str_eq(e.action, x->action);
        ck_assert_msg(strcmp(e.user, x->user) == 0, "%s: user %s", x->action, e.user);
        ck_assert_msg(e.has_esig == (x->meaning != NULL), "%s: has_esig %d", x->action, e.has_esig);
        if (e.has_esig) {
            ck_assert_str_eq(e.esig.meaning, x->meaning);
            ck_assert_str_eq(e.esig.user, e.user);
            ck_assert_int_eq(crypto_sign_verify_detached(e.esig.signature, p, ctm__entry_signed_len(n),
                                                         e.esig.public_key),
                             0);
        }
        tables_of(&e, tables, sizeof tables);
        ck_assert_msg(strcmp(tables, x->tables) == 0, "%s: tables %s, want %s", x->action, tables,
                      x->tables);
        for (size_t j = 0; j < k; j++)
            ck_assert_msg(memcmp(salts[j], e.salt, CTM_ENTRY_SALT_LEN) != 0, "salt reused");
        memcpy(salts[k], e.salt, CTM_ENTRY_SALT_LEN);
        ctm__buf b;
        ctm__buf_init(&b);
        ck_assert_int_eq(ctm__entry_encode(&b, &e), 0);
        ck_assert_msg(b.n == n && memcmp(b.p, p, n) == 0, "%s: re-encoding differs", x->action);
        ctm__buf_free(&b);
        ctm__entry_free(&e);
        k++;
    }
    ctm__st_finalize(st);
    ctm__store_close(s);
    ck_assert_uint_eq(k, nwant);
}

static const char manifest[] = "kit_number,kit_type,lot,expiry,arm\n"
                               "K1,DX,L1,2028-06-30,A\n"
                               "K2,DX,L1,2028-06-30,B\n"
                               "K3,DX,L1,2028-06-30,B\n"
                               "K4,DX,L1,2028-06-30,A\n";

START_TEST(test_every_action_decodes_strictly)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    db_a = tu_open(dbpath, &o);
    nwant = 0;
    tu_ok(ctm_init(db_a, "St Example", NULL, ADMIN, "Ada Admin", ADMIN_PW));
    expect("site.init", ADMIN, "site initialised", "site,users,credentials");
    tu_ok(ctm_user_add(db_a, PHARM, "pharmacist", 1, "Phil Pharm", PHARM_PW));
    expect("user.add", ADMIN, "authorized account change", "users,credentials");
    tu_ok(ctm_user_add(db_a, TECH, "technician", 0, "Tom Tech", TECH_PW));
    expect("user.add", ADMIN, "authorized account change", "users,credentials");
    tu_ok(ctm_user_disable(db_a, TECH, "on leave"));
    expect("user.disable", ADMIN, "authorized account change", "users");
    tu_ok(ctm_user_enable(db_a, TECH, "back"));
    expect("user.enable", ADMIN, "authorized account change", "users");
    tu_ok(ctm_user_set_role(db_a, TECH, "investigator", 0, "new post"));
    expect("user.role", ADMIN, "authorized account change", "users");
    tu_ok(ctm_user_passwd(db_a, TECH, TECH_PW2));
    expect("user.reset", ADMIN, "authorized account change", "credentials");
    tu_ok(ctm_user_passwd(db_a, NULL, ADMIN_PW2));
    expect("user.passwd", ADMIN, "password changed", "users,credentials");
    tu_ok(ctm_audit_note(db_a, "plain note", NULL));
    expect("audit.note", ADMIN, NULL, "");
    tu_ok(ctm_audit_note(db_a, "signed note", "reviewed"));
    expect("audit.note", ADMIN, "reviewed", "");
    ctm_logout(db_a);
    ck_assert_int_eq(ctm_login(db_a, PHARM, "wrong-password"), CTM_EAUTH);
    expect("auth.failed", PHARM, NULL, "users");
    ck_assert_int_eq(ctm_login(db_a, "nobody", "wrong-password"), CTM_EAUTH);
    expect("auth.failed", "", NULL, "");
    tu_login(db_a, PHARM, PHARM_PW);
    expect("auth.reset", PHARM, NULL, "users");

    tu_ok(ctm_trial_add(db_a, "T1", "Drug X vs placebo", "Sponsor", 1, "A:1,B:1"));
    expect("trial.add", PHARM, NULL, "trials,arms");
    tu_ok(ctm_kittype_add(db_a, "T1", "DX", "Drug X", 30, 2, 8, 0, NULL));
    expect("kittype.add", PHARM, NULL, "kit_types");
    tu_ok(ctm_location_add(db_a, "FRIDGE", "fridge", 2, 8));
    expect("location.add", PHARM, NULL, "locations");
    tu_ok(ctm_location_add(db_a, "FRIDGE2", "fridge", 2, 8));
    expect("location.add", PHARM, NULL, "locations");
    tu_ok(ctm_receive(db_a, "T1", "SH1", manifest, strlen(manifest), "FRIDGE", NULL));
    expect("shipment.receive", PHARM, NULL, "shipments,lots,kits,kit_events,darf_lines");
    ctm_scan_result r = {.struct_size = sizeof r};
    tu_ok(ctm_receive_scan(db_a, "SH1", "K1", 0, &r));
    expect("shipment.scan", PHARM, NULL, "kits");
    tu_ok(ctm_receive_confirm(db_a, "SH1", 1));
    expect("shipment.confirm", PHARM, "receipt confirmed", "kits,kit_events,shipments");
    tu_ok(ctm_kit_set_status(db_a, "T1", "K2", "quarantined", "dropped"));
    expect("kit.status", PHARM, NULL, "kits,kit_events");
    tu_ok(ctm_expiry_extend(db_a, "T1", "L1", NULL, 0, "2029-06-30", "SPONSOR-LETTER-1"));
    expect("expiry.extend", PHARM, "expiry extended", "lots,kits");
    const char *move[] = {"K3"};
    tu_ok(ctm_transfer(db_a, "T1", move, 1, "FRIDGE2", NULL));
    expect("kit.transfer", PHARM, NULL, "kit_moves,kits");
    const char *send[] = {"K4"};
    tu_ok(ctm_transfer_out(db_a, "T1", send, 1, "Other site", "OUT1", NULL));
    expect("shipment.send", PHARM, NULL, "shipments,kit_moves,kits,kit_events,darf_lines");
    tu_ok(ctm_trial_add(db_a, "OL", "Open label", "Sponsor", 0, "A:1"));
    expect("trial.add", PHARM, NULL, "trials,arms");
    tu_ok(ctm_kittype_add(db_a, "OL", "TAB", "Tablets", 100, 15, 25, 0, NULL));
    expect("kittype.add", PHARM, NULL, "kit_types");
    tu_ok(ctm_bulk_receive(db_a, "OL", "BULK1", "TAB", "B1", "2028-01-31", 500, "FRIDGE", NULL));
    expect("shipment.receive_bulk", PHARM, "receipt confirmed", "shipments,lots,bulk_stock");
    check_entries(dbpath, 0);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

/* The system entry of a migration, on a copy of a site from before salted entries. */
START_TEST(test_upgrade_entry_decodes_strictly)
{
    if (tu_backend() != TU_SQLITE)
        return; /* the copy is a SQLite file: no PostgreSQL site predates salted entries */
    ck_assert_int_eq(tu_copy_site(tu_data_path("legacy-v2"), tdir, "site.db"), 0);
    db_a = tu_open(dbpath, NULL);
    nwant = 0;
    expect("ledger.upgrade", "", NULL, "");
    check_entries(dbpath, 16);
}
END_TEST

/* ---- the write path writes only the registry's actions, signed as the registry says ---- */

START_TEST(test_unknown_action_is_refused)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    db_a = tu_open(dbpath, &o);
    tu_ok(ctm_init(db_a, "St Example", NULL, ADMIN, "Ada Admin", ADMIN_PW));
    uint64_t n = tu_audit_size(db_a);
    ctm__action a;
    ck_assert_int_eq(ctm__action_begin(&a, db_a, "user.delete", ""), CTM_EMISUSE);
    ck_assert_msg(strstr(ctm_errmsg(), "'user.delete'") != NULL &&
                      strstr(ctm_errmsg(), "registry") != NULL,
                  "%s", ctm_errmsg());
    ck_assert_int_eq(ctm__action_begin_entry_only(&a, db_a, "audit.notes", ""), CTM_EMISUSE);
    ck_assert_int_eq(ctm__action_begin(&a, db_a, NULL, ""), CTM_EMISUSE);
    /* nothing was opened: the next action runs as usual */
    tu_ok(ctm_audit_note(db_a, "after the refusals", NULL));
    ck_assert_uint_eq(tu_audit_size(db_a), n + 1);
    ck_assert_int_eq(ctm__require_action(db_a, "user.delete", "user delete"), CTM_EMISUSE);
    tu_assert_verifies_all(db_a, NULL);
}
END_TEST

START_TEST(test_meaning_comes_from_the_registry)
{
    ctm_open_options o = CTM_OPEN_OPTIONS_INIT;
    o.flags = CTM_OPEN_CREATE;
    db_a = tu_open(dbpath, &o);
    tu_ok(ctm_init(db_a, "St Example", NULL, ADMIN, "Ada Admin", ADMIN_PW));
    uint64_t n = tu_audit_size(db_a);
    /* a signed action with a meaning of the caller's own: refused, nothing written */
    ctm__action a;
    tu_ok(ctm__action_begin(&a, db_a, "location.add", ""));
    ck_assert_int_eq(ctm__store_exec(db_a->store, "INSERT INTO locations(name, kind, min_mc, max_mc)"
                                                  " VALUES ('Shelf Z', 'ambient', 15000, 25000)"),
                     CTM_OK);
    a.caller_meaning = "approved";
    ck_assert_int_eq(ctm__action_commit(&a), CTM_EMISUSE);
    ck_assert_msg(strstr(ctm_errmsg(), "location.add") != NULL, "%s", ctm_errmsg());
    ck_assert_uint_eq(tu_audit_size(db_a), n);
    ck_assert_int_eq(tu_sql_int(dbpath, "SELECT count(*) FROM locations", NULL), 0);
    /* a signed action is signed with the registry's meaning without the caller asking */
    tu_ok(ctm__action_begin_entry_only(&a, db_a, "user.role", "white-box"));
    ctm__action_param(&a, "user", ADMIN);
    tu_ok(ctm__action_commit(&a));
    /* user.passwd is signed exactly when new_signing_key is yes */
    tu_ok(ctm__action_begin_entry_only(&a, db_a, "user.passwd", ""));
    ctm__action_param(&a, "new_signing_key", "no");
    tu_ok(ctm__action_commit(&a));
    nwant = 0;
    expect("user.role", ADMIN, "authorized account change", "");
    expect("user.passwd", ADMIN, NULL, "");
    check_entries(dbpath, n);
}
END_TEST

/* ---- the streaming encoder refuses what the decoder would refuse ---- */

static const ctm__column_def kit_cols[] = {{"id", 1}, {"arm", 0}, {"units", 0}};

/* head: initialised by the caller, reused (emptied) here, freed by the caller at the end */
static void open_kits_group(ctm__changes *c, ctm__buf *head)
{
    ctm__changes_init(c);
    head->n = 0;
    ck_assert_int_eq(ctm__group_head(head, "kits", kit_cols, 3), 0);
    ctm__changes_group(c, kit_cols, "kits", head->p, head->n);
}

START_TEST(test_writer_refuses_undecodable_rows)
{
    ctm__changes c;
    ctm__buf head;
    ctm__value vals[3] = {{.tag = CTM_V_INT, .i = 1},
                          {.tag = CTM_V_TEXT, .p = (const uint8_t *)"A\xff", .n = 2},
                          {.tag = CTM_V_INT, .i = 30}};
    ctm__buf_init(&head);
    open_kits_group(&c, &head);
    /* text that is not UTF-8 (SQLite stores whatever it is given) */
    ck_assert_int_eq(ctm__changes_row(&c, 'I', kit_cols, 3, NULL, vals, 0), -1);
    ck_assert_msg(strstr(c.why, "table kits, column arm") != NULL, "%s", c.why);
    ck_assert(strstr(c.why, "A\xff") == NULL);
    ctm__changes_free(&c);

    open_kits_group(&c, &head);
    vals[1] = (ctm__value){.tag = CTM_V_TEXT, .p = (const uint8_t *)"a\0b", .n = 3};
    ck_assert_int_eq(ctm__changes_row(&c, 'I', kit_cols, 3, NULL, vals, 0), -1);
    ctm__changes_free(&c);

    open_kits_group(&c, &head);
    ctm__value olds[3] = {{.tag = CTM_V_INT, .i = 1}, {.tag = CTM_V_ABSENT}, {.tag = CTM_V_INT, .i = 30}};
    ctm__value news[3] = {{.tag = CTM_V_INT, .i = 2}, {.tag = CTM_V_ABSENT}, {.tag = CTM_V_INT, .i = 29}};
    ck_assert_int_eq(ctm__changes_row(&c, 'U', kit_cols, 3, olds, news, 0), -1); /* key moved */
    ck_assert_msg(strstr(c.why, "primary key") != NULL, "%s", c.why);
    ctm__changes_free(&c);

    open_kits_group(&c, &head);
    news[0].i = 1;
    news[2].tag = CTM_V_ABSENT; /* changed on one side only */
    ck_assert_int_eq(ctm__changes_row(&c, 'U', kit_cols, 3, olds, news, 0), -1);
    ctm__changes_free(&c);

    /* a good row, then the entry: it decodes, and an empty group would not be written */
    open_kits_group(&c, &head);
    news[2] = (ctm__value){.tag = CTM_V_INT, .i = 29};
    ck_assert_int_eq(ctm__changes_row(&c, 'U', kit_cols, 3, olds, news, 0), 0);
    ctm__entry h = {.user = "u", .action = "kit.status", .reason = ""};
    ctm__buf out;
    size_t start = 0;
    ctm__buf_init(&out);
    ck_assert_int_eq(ctm__entry_write(&out, &h, &c, &start), 0);
    ctm__entry e;
    ck_assert_int_eq(ctm__entry_decode(&e, out.p, out.n, NULL, 0), 0);
    ck_assert_uint_eq(e.nchanges, 1);
    ck_assert_uint_eq(e.changes[0].ncols, 2); /* the key and the changed column */
    ctm__entry_free(&e);
    static const ctm__column_def other[] = {{"id", 1}};
    ctm__buf head2;
    ctm__buf_init(&head2);
    ck_assert_int_eq(ctm__group_head(&head2, "lots", other, 1), 0);
    ctm__changes_group(&c, other, "lots", head2.p, head2.n);
    out.n = 0;
    ck_assert_int_eq(ctm__entry_write(&out, &h, &c, &start), -1);
    ctm__buf_free(&head2);
    ctm__buf_free(&out);
    ctm__changes_free(&c);
    ctm__buf_free(&head);
}
END_TEST

START_TEST(test_group_head_rules)
{
    ctm__buf b;
    static const ctm__column_def nokey[] = {{"a", 0}, {"b", 0}};
    static const ctm__column_def twice[] = {{"id", 1}, {"id", 0}};
    ctm__buf_init(&b);
    ck_assert_int_eq(ctm__group_head(&b, "t", nokey, 2), -1);
    ck_assert_int_eq(ctm__group_head(&b, "t", twice, 2), -1);
    ck_assert_int_eq(ctm__group_head(&b, "t", kit_cols, 0), -1);
    ck_assert_int_eq(ctm__group_head(&b, "t\xc0\x80", kit_cols, 3), -1);
    ctm__buf_free(&b);
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tu_tcase(s, "every_action", setup, teardown, 240);
    tcase_add_test(tc, test_every_action_decodes_strictly);
    tcase_add_test(tc, test_upgrade_entry_decodes_strictly);
    tc = tu_tcase(s, "registry", setup, teardown, 120);
    tcase_add_test(tc, test_unknown_action_is_refused);
    tcase_add_test(tc, test_meaning_comes_from_the_registry);
    tc = tu_tcase(s, "writer", NULL, NULL, 0);
    tcase_add_test(tc, test_writer_refuses_undecodable_rows);
    tcase_add_test(tc, test_group_head_rules);
    return s;
}

int main(void)
{
    if (sodium_init() < 0)
        return EXIT_FAILURE;
    return tu_run_suite(ledger_suite());
}
